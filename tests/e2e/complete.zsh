# Prints the matches zsh's completion system offers for a command line, one
# "MATCH:word" per line, by driving an interactive zsh in a pseudo-terminal.
# Used by docs.bats. Usage: zsh complete.zsh FPATH_DIR 'sockprobe li'
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PROMPT=; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'comppostfuncs=(_cap); _cap() { print -r -- "@@DONE${compstate[nmatches]}@@"; }'
zpty -w z 'compadd() { local -a __m; builtin compadd -O __m "$@"; print -rl -- "${__m[@]/#/MATCH:}"; builtin compadd "$@"; }'
zpty -w z "$2"$'\t'
out=''
for i in {1..200}; do  # at most ~10 s
  zpty -r -t z line && out+=$line || sleep 0.05
  [[ $out =~ '@@DONE[0-9]+@@' ]] && break
done
zpty -d z
[[ $out =~ '@@DONE[0-9]+@@' ]] || { print -u2 "complete.zsh: no completion result for '$2'"; exit 1; }
print -r -- $out | tr -d '\r' | grep -a -o 'MATCH:[-A-Za-z0-9_=]*' | sort -u
