// Errors as values. Core functions return Result<T> (or Status) instead of
// throwing or exiting; the error carries its kind, and only main() turns the
// kind into an exit status (see exit_code()).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sp {

enum class ErrorKind {
  System,       // network or system error: exit 1
  Usage,        // bad flag or value: exit 2
  Timeout,      // connect, idle or stall timeout: exit 3
  Check,        // a check failed (threshold, checksum): exit 4
  Interrupted,  // SIGINT: exit 130
};

struct Error {
  ErrorKind kind = ErrorKind::System;
  std::string message;
};

int exit_code(ErrorKind kind);

inline Error system_error(std::string msg) { return {ErrorKind::System, std::move(msg)}; }
inline Error usage_error(std::string msg) { return {ErrorKind::Usage, std::move(msg)}; }
inline Error timeout_error(std::string msg) { return {ErrorKind::Timeout, std::move(msg)}; }
inline Error check_error(std::string msg) { return {ErrorKind::Check, std::move(msg)}; }
inline Error interrupted_error(std::string msg = "interrupted") {
  return {ErrorKind::Interrupted, std::move(msg)};
}

// Result<T>: either a value or an Error. Deliberately small: ok(), value(),
// error(), and operator* / -> for the value.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Error err) : v_(std::move(err)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error take_error() { return std::move(std::get<1>(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Status: a Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error err) : err_(std::move(err)), ok_(false) {}  // NOLINT
  static Status success() { return {}; }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

// errno_text(errno): strerror, thread-safe.
std::string errno_text(int err);

}  // namespace sp
