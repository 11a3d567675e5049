#!/usr/bin/env bats
@test "a" {
  if true; then
}
