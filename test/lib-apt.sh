# shellcheck shell=bash
# lib-apt.sh - sourced by test.sh and test/vm/lane.sh: apt_install, the one way they install Debian
# packages on the host (as root). Tested by test/apt_test.go with the real apt-get on temporary
# directories (APT_CONFIG).
#
# apt_install ARG...: `apt-get update`, then `apt-get install -y -q ARG...`, waiting for another apt
# or dpkg run (unattended-upgrades, a second lane, test.sh beside it) instead of failing at once.
# - The install waits up to APT_LOCK_WAIT seconds (default 600) for dpkg's lock with
#   -o DPkg::Lock::Timeout, which apt reads when it takes that lock (debSystem::Lock,
#   apt-pkg/deb/debsystem.cc:130 at apt 2.6.1, bookworm's).
# - The update does not take dpkg's lock but the lists' lock, with a GetLock that never waits
#   (ListUpdate, apt-pkg/update.cc:30 -> pkgAcquire::GetLock, apt-pkg/acquire.cc:178, apt 2.6.1):
#   DPkg::Lock::Timeout does not reach it. So apt_update runs it again while apt says
#   "Could not get lock" (apt-pkg/contrib/fileutl.cc:315), every APT_LOCK_POLL seconds (5), up to
#   APT_LOCK_WAIT seconds.
# - The update runs with --error-on=any (apt-get(8)): without it a mirror that cannot be reached is
#   a "transient network error", a warning, and apt-get update exits 0 (AcquireUpdate,
#   apt-pkg/update.cc, apt 2.6.1) - the failure the callers used to swallow.
# A failed update is reported on stderr, with apt's own error, and the install is still tried from
# the package lists the machine has: when it succeeds the packages are Debian's real ones and the
# caller goes on (a warning says the lists were not refreshed); when it fails, apt_install says that
# both failed and returns the install's status. apt's stdout goes to the caller's stdout.

# apt_update: apt-get update, retried while another apt holds the lists' lock; its stderr is shown
# once, at the end. Returns apt-get's status.
apt_update() {
  local err rc waited=0 wait=${APT_LOCK_WAIT:-600} poll=${APT_LOCK_POLL:-5}
  err=$(mktemp) || return 1
  while :; do
    rc=0
    # LC_ALL=C.UTF-8: apt's messages untranslated, so that "Could not get lock" is found
    LC_ALL=C.UTF-8 apt-get -q --error-on=any update 2>"$err" || rc=$?
    if [[ $rc != 0 ]] && grep -q 'Could not get lock' "$err" && ((waited < wait)); then
      if ((waited == 0)); then
        echo "apt: waiting up to ${wait}s for another apt: $(grep -m1 'Could not get lock' "$err")" >&2
      fi
      sleep "$poll"
      waited=$((waited + poll))
      continue
    fi
    break
  done
  cat "$err" >&2
  rm -f "$err"
  return "$rc"
}

apt_install() {
  local urc=0 rc=0
  apt_update || urc=$?
  if [[ $urc != 0 ]]; then
    echo "apt: apt-get update failed (rc=$urc); installing from the package lists this machine already has" >&2
  fi
  apt-get -o DPkg::Lock::Timeout="${APT_LOCK_WAIT:-600}" install -y -q "$@" || rc=$?
  if [[ $rc != 0 ]]; then
    if [[ $urc != 0 ]]; then
      echo "apt: apt-get install $* failed (rc=$rc) after apt-get update failed (rc=$urc): check the network and the mirrors in apt's sources" >&2
    else
      echo "apt: apt-get install $* failed (rc=$rc)" >&2
    fi
    return "$rc"
  fi
  if [[ $urc != 0 ]]; then
    echo "apt: warning: installed $* from package lists that apt-get update could not refresh" >&2
  fi
  return 0
}
