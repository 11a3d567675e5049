#!/usr/bin/env bats
# The documentation agrees with the binary. For every subcommand that
# `sockprobe --help` lists, every flag that `sockprobe SUB --help` shows must
# be in the man page (inside its "## sockprobe SUB" section) and in the flag
# specs of all three completion files; the failure names each missing flag
# and the file to add it to. Then the completions are driven for real:
# bash (bash-completion), zsh (zpty) and fish (complete -C).

setup() {
  : "${SOCKPROBE:?SOCKPROBE must point at the built sockprobe binary}"
  ROOT=${SOCKPROBE_SOURCE_ROOT:-$BATS_TEST_DIRNAME/../..}
  MAN=$ROOT/man/sockprobe.1.scd
  COMP=$ROOT/completions
}

# help_flags [SUB]: the flags `sockprobe [SUB] --help` lists, one per line.
help_flags() {
  "$SOCKPROBE" "$@" --help | awk '
    /^[A-Z][A-Za-z]*:$/ { section = $0; next }
    section != "Subcommands:" && section != "Positionals:" && /^  +-/ { n = split($1, f, ","); for (i = 1; i <= n; i++) print f[i] }'
}

# subcommands [SUB]: the subcommands `sockprobe [SUB] --help` lists.
subcommands() {
  "$SOCKPROBE" "$@" --help | awk '
    /^[A-Z][A-Za-z]*:$/ { section = $0; next }
    section == "Subcommands:" && /^  +[a-z]/ { print $1 }'
}

# own_flags SUB [NESTED]: the flags of SUB (or of its nested subcommand,
# `backlog test`) that are not global (-h/--help are global).
own_flags() {
  comm -23 <(help_flags "$@" | sort -u) <(help_flags | sort -u)
}

# documented_flags SUB: SUB's own flags and its nested subcommands' ones; a
# nested subcommand is documented in its parent's man section.
documented_flags() {
  local nested
  { own_flags "$1"; for nested in $(subcommands "$1"); do own_flags "$1" "$nested"; done; } | sort -u
}

# mentions TEXT_FILE FLAG: is FLAG in the text as a whole word (*--udp*, -I,)?
mentions() {
  grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$1"
}

# man_section SUB: the text of "## sockprobe SUB" up to the next heading.
man_section() {
  awk -v h="## sockprobe $1" '$0 == h { on = 1; next } /^#/ { on = 0 } on' "$MAN"
}

# spec_names: flag names from spec lines ("-I,--rcvbuf=SIZE description").
spec_names() {
  awk '{ sub(/=.*/, "", $1); n = split($1, f, ","); for (i = 1; i <= n; i++) print f[i] }'
}

# spec FILE [SUB]: the flag specs a completion file holds for SUB (or global).
spec() {
  case $1 in
    sockprobe.bash) bash -c 'source "$1"; _sockprobe_spec "$2"' _ "$COMP/sockprobe.bash" "${2-}" ;;
    _sockprobe) zsh -fc 'source "$1"; _sockprobe_spec "$2"' _ "$COMP/_sockprobe" "${2-}" ;;
    sockprobe.fish) fish -c 'source $argv[1]; __sockprobe_spec $argv[2]' "$COMP/sockprobe.fish" "${2-}" ;;
  esac
}

# compare_flags LABEL WANT_FILE HAVE_FILE: report flags missing from HAVE and,
# in completions, flags that --help no longer shows. Appends to $BATS_TEST_TMPDIR/problems.
compare_flags() {
  local label=$1 want=$2 have=$3 f
  for f in $(comm -23 <(sort -u "$want") <(sort -u "$have")); do
    echo "$label: missing $f" >>"$BATS_TEST_TMPDIR/problems"
  done
  for f in $(comm -13 <(sort -u "$want") <(sort -u "$have")); do
    echo "$label: lists $f, which --help does not show" >>"$BATS_TEST_TMPDIR/problems"
  done
}

# report_problems: fail with every collected problem, if any.
report_problems() {
  if [[ -s $BATS_TEST_TMPDIR/problems ]]; then
    cat "$BATS_TEST_TMPDIR/problems" >&2
    return 1
  fi
}

@test "--help lists subcommands and flags (the parser below works)" {
  [[ $(subcommands | wc -l) -ge 2 ]]
  subcommands | grep -qx listen
  help_flags | grep -qx -- --json
  help_flags | grep -qx -- -4
  own_flags listen | grep -qx -- --echo
  own_flags listen | grep -qx -- -I
  ! own_flags listen | grep -qx -- --help
}

@test "man page: every global flag of sockprobe --help" {
  local f
  for f in $(help_flags); do
    mentions "$MAN" "$f" || echo "man/sockprobe.1.scd: missing global flag $f (from 'sockprobe --help'); add it under GLOBAL OPTIONS" >>"$BATS_TEST_TMPDIR/problems"
  done
  report_problems
}

@test "man page: every subcommand has a section naming each of its flags" {
  local sub f text=$BATS_TEST_TMPDIR/section
  for sub in $(subcommands); do
    man_section "$sub" >"$text"
    if [[ ! -s $text ]]; then
      echo "man/sockprobe.1.scd: no '## sockprobe $sub' section (subcommand '$sub' is in 'sockprobe --help')" >>"$BATS_TEST_TMPDIR/problems"
      continue
    fi
    grep -q "^\*sockprobe\* .*\*$sub\*" "$MAN" ||
      echo "man/sockprobe.1.scd: SYNOPSIS has no line for '$sub'" >>"$BATS_TEST_TMPDIR/problems"
    for f in $(documented_flags "$sub"); do
      mentions "$text" "$f" || echo "man/sockprobe.1.scd: section '## sockprobe $sub' is missing $f (from 'sockprobe $sub --help')" >>"$BATS_TEST_TMPDIR/problems"
    done
  done
  report_problems
}

# check_completion FILE: the spec of FILE matches --help, globally and per subcommand.
check_completion() {
  local file=$1 sub nested want=$BATS_TEST_TMPDIR/want have=$BATS_TEST_TMPDIR/have
  help_flags >"$want"
  spec "$file" | spec_names >"$have"
  compare_flags "completions/$file (global flags)" "$want" "$have"
  for sub in $(subcommands); do
    own_flags "$sub" >"$want"
    spec "$file" "$sub" | spec_names >"$have"
    if [[ -s $want && ! -s $have ]]; then
      echo "completions/$file: no flag spec for subcommand '$sub'; add a '$sub' case to its spec function" >>"$BATS_TEST_TMPDIR/problems"
      continue
    fi
    compare_flags "completions/$file (sockprobe $sub)" "$want" "$have"
    for nested in $(subcommands "$sub"); do  # its own spec: the parent's flags do not apply
      own_flags "$sub" "$nested" >"$want"
      spec "$file" "$sub $nested" | spec_names >"$have"
      compare_flags "completions/$file (sockprobe $sub $nested)" "$want" "$have"
    done
  done
  report_problems
}

# examples SUB...: the example lines under "Examples:" of `sockprobe SUB --help`.
examples() {
  "$SOCKPROBE" "$@" --help | awk '/^Examples:$/ { on = 1; next } /^[A-Z][A-Za-z]*:$/ { on = 0 } on && /sockprobe/'
}

@test "--help of each subcommand ends with 2-4 examples that use only its own flags" {
  local sub nested n f
  for sub in $(subcommands) "backlog test" "backlog trace"; do
    # shellcheck disable=SC2086
    n=$(examples $sub | wc -l)
    if [ "$n" -lt 2 ] || [ "$n" -gt 4 ]; then
      echo "sockprobe $sub --help: $n examples (want 2-4 under 'Examples:')" >>"$BATS_TEST_TMPDIR/problems"
    fi
    # shellcheck disable=SC2086
    for f in $(examples $sub | sed 's/#.*//' | grep -oE -- '(^| )--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ' | sort -u); do
      # shellcheck disable=SC2086
      help_flags $sub | grep -qx -- "$f" || help_flags | grep -qx -- "$f" ||
        echo "sockprobe $sub --help: an example uses $f, which is not its flag" >>"$BATS_TEST_TMPDIR/problems"
    done
  done
  report_problems
}

@test "bash completion: every flag of every subcommand" { check_completion sockprobe.bash; }
@test "zsh completion: every flag of every subcommand" { check_completion _sockprobe; }
@test "fish completion: every flag of every subcommand" { check_completion sockprobe.fish; }

@test "completions: every subcommand is offered" {
  local sub
  for sub in $(subcommands); do
    bash -c 'source "$1"; [[ " $_sockprobe_commands " == *" $2 "* ]]' _ "$COMP/sockprobe.bash" "$sub" ||
      echo "completions/sockprobe.bash: subcommand '$sub' missing from _sockprobe_commands" >>"$BATS_TEST_TMPDIR/problems"
    zsh -fc 'source "$1"; (( ${_sockprobe_commands[(I)$2:*]} ))' _ "$COMP/_sockprobe" "$sub" ||
      echo "completions/_sockprobe: subcommand '$sub' missing from _sockprobe_commands" >>"$BATS_TEST_TMPDIR/problems"
    fish -c 'source $argv[1]; string match -q -- "$argv[2] *" $__sockprobe_commands' "$COMP/sockprobe.fish" "$sub" ||
      echo "completions/sockprobe.fish: subcommand '$sub' missing from __sockprobe_commands" >>"$BATS_TEST_TMPDIR/problems"
  done
  report_problems
}

@test "zsh and fish completion files parse" {
  zsh -n "$COMP/_sockprobe"
  fish -n "$COMP/sockprobe.fish"
  bash -n "$COMP/sockprobe.bash"
}

# bash_complete WORDS...: what bash completion offers for the last word.
bash_complete() {
  bash -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    $(complete -p sockprobe | sed -n "s/.*-F \([^ ]*\) .*/\1/p") sockprobe "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP/sockprobe.bash" "$@"
}

@test "bash completion completes subcommands, flags and values" {
  [[ -f /usr/share/bash-completion/bash_completion ]] || skip "bash-completion is not installed"
  run bash_complete sockprobe li
  [[ $status -eq 0 && $output == listen ]]
  run bash_complete sockprobe listen --ec
  [[ $status -eq 0 && $output == --echo ]]
  run bash_complete sockprobe -v con
  [[ $output == connect ]]
  run bash_complete sockprobe connect -z --zero
  [[ $output == --zero-io ]]
  run bash_complete sockprobe --color a
  [[ $output == *always* && $output == *auto* && $output != *never* ]]
  run bash_complete sockprobe --color = n
  [[ $output == never ]]
  run bash_complete sockprobe listen --tim
  [[ -z $output ]]  # --timeout is connect's, not listen's
}

@test "completions: backlog <TAB> offers test and trace; each offers only its own flags" {
  local out
  if [[ -f /usr/share/bash-completion/bash_completion ]]; then
    run bash_complete sockprobe backlog ''
    [[ $output == *test* && $output == *trace* ]]
    run bash_complete sockprobe backlog test --
    [[ $output == *--clients=* && $output != *--check* && $output != *--fail-above* && $output != *--watch* ]]
    [[ $output != *--port=* && $output != *--pid=* ]]
    run bash_complete sockprobe backlog trace --
    [[ $output == *--duration=* && $output == *--port=* && $output != *--check* && $output != *--clients* ]]
    run bash_complete sockprobe backlog --
    [[ $output == *--check* && $output != *--clients* && $output != *--duration* ]]
  fi
  out=$(fish -c 'source $argv[1]; complete -C"sockprobe backlog test --"' "$COMP/sockprobe.fish")
  [[ $out == *--clients* && $out != *--check* && $out != *--watch* ]]
  out=$(fish -c 'source $argv[1]; complete -C"sockprobe backlog trace --"' "$COMP/sockprobe.fish")
  [[ $out == *--duration* && $out != *--check* && $out != *--clients* ]]
  out=$(fish -c 'source $argv[1]; complete -C"sockprobe backlog "' "$COMP/sockprobe.fish")
  [[ $out == *test* && $out == *trace* ]]
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe backlog test --'
  [[ $status -eq 0 && $output == *MATCH:--clients* && $output != *MATCH:--check* ]]
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe backlog trace --'
  [[ $status -eq 0 && $output == *MATCH:--duration* && $output != *MATCH:--check* ]]
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe backlog '
  [[ $status -eq 0 && $output == *MATCH:test* && $output == *MATCH:trace* ]]
}

@test "zsh completion completes subcommands, flags and values" {
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe li'
  [[ $status -eq 0 && $output == *MATCH:listen* ]]
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe listen --ec'
  [[ $status -eq 0 && $output == *MATCH:--echo* ]]
  run timeout 60 zsh -f "$BATS_TEST_DIRNAME/complete.zsh" "$COMP" 'sockprobe --color '
  [[ $status -eq 0 && $output == *MATCH:always* && $output == *MATCH:never* ]]
}

@test "fish completion completes subcommands, flags and values" {
  run fish -c 'source $argv[1]; complete -C"sockprobe li"' "$COMP/sockprobe.fish"
  [[ $status -eq 0 && $output == listen* ]]
  run fish -c 'source $argv[1]; complete -C"sockprobe listen --ec"' "$COMP/sockprobe.fish"
  [[ $status -eq 0 && $output == --echo* ]]
  run fish -c 'source $argv[1]; complete -C"sockprobe --color "' "$COMP/sockprobe.fish"
  [[ $status -eq 0 && $output == *always* && $output == *never* ]]
}

@test "man page builds with scdoc without warnings" {
  command -v scdoc >/dev/null || skip "scdoc is not installed"
  run bash -c 'scdoc <"$1" 2>&1 >/dev/null' _ "$MAN"
  [[ $status -eq 0 && -z $output ]]
}
