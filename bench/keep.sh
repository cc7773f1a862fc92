# Sourced by the bench scripts. `keep OUT COMMAND...`: run COMMAND into OUT, written only when it succeeds (via
# OUT.tmp), and skipped when OUT is already there, so an interrupted script resumes where it stopped.
keep() {
  local out=$1; shift
  [ -s "$out" ] && return 0
  "$@" > "$out.tmp"
  mv "$out.tmp" "$out"
}
