// The shell programs the common releaser runs on each target, through the
// executor's `execute` with an exact argv: ["sh", "-c", SCRIPT, "exed-release",
// arg1, arg2, ...]. Every value arrives as a positional parameter ("$1"…),
// never spliced into the script text, so nothing a client sends is parsed
// by a shell.
//
// Layout on a target:  <root>/<app>/releases/<revision>/   a git checkout
//                      <root>/<app>/current -> releases/<revision>
//                      <root>/<app>/.releases                release order, oldest first
// Each script ends by printing "EXED-RESULT <revision> <commit>" (or
// "EXED-RESULT - -" when nothing is live) for the releaser to parse.
#pragma once

namespace exed::common {

// Shared helpers, prepended to every script.
inline constexpr const char* kPrelude = R"sh(set -eu
base="$1/$2"
switch_to() {
  # Atomic: a new symlink under a temporary name, renamed over "current".
  ln -sfn "releases/$1" "$base/.current.$$"
  mv -T "$base/.current.$$" "$base/current"
}
remember() {
  # Release order (a rollback does not change it): this one is the newest.
  touch "$base/.releases"
  grep -vxF -- "$1" "$base/.releases" > "$base/.releases.$$" || true
  echo "$1" >> "$base/.releases.$$"
  mv "$base/.releases.$$" "$base/.releases"
}
report() {
  if [ -L "$base/current" ]; then
    rev=$(basename "$(readlink "$base/current")")
    echo "EXED-RESULT $rev $(git -C "$base/current" rev-parse HEAD)"
  else
    echo "EXED-RESULT - -"
  fi
}
)sh";

// $1 root  $2 app  $3 revision  $4 giturl  $5 keep
inline constexpr const char* kRelease = R"sh(rev="$3"; url="$4"; keep="$5"
rel="$base/releases/$rev"
mkdir -p "$base/releases"
if [ ! -d "$rel" ]; then
  tmp="$base/releases/.tmp.$rev.$$"
  rm -rf "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  git clone --quiet --no-checkout -- "$url" "$tmp"
  # Exactly this revision: a full commit id, or a tag.
  if printf '%s' "$rev" | grep -Eq '^[0-9a-f]{40}$'; then
    commit=$(git -C "$tmp" rev-parse -q --verify "$rev^{commit}") || { echo "revision $rev is not in $url" >&2; exit 3; }
  else
    commit=$(git -C "$tmp" rev-parse -q --verify "refs/tags/$rev^{commit}") || { echo "revision $rev is neither a full commit id nor a tag of $url" >&2; exit 3; }
  fi
  git -C "$tmp" -c advice.detachedHead=false checkout --quiet --detach "$commit"
  mv -T "$tmp" "$rel"
  trap - EXIT
fi
switch_to "$rev"
remember "$rev"
# Keep the newest $keep releases (never the live one).
total=$(wc -l < "$base/.releases")
if [ "$total" -gt "$keep" ]; then
  head -n $((total - keep)) "$base/.releases" | while IFS= read -r old; do
    [ "$old" = "$rev" ] && continue
    rm -rf -- "$base/releases/$old"
    grep -vxF -- "$old" "$base/.releases" > "$base/.releases.$$" || true
    mv "$base/.releases.$$" "$base/.releases"
  done
fi
report
)sh";

// $1 root  $2 app  $3 revision ("" = the release before the live one)
inline constexpr const char* kRollback = R"sh(rev="$3"
[ -d "$base/releases" ] || { echo "no releases of $2 on this host" >&2; exit 3; }
if [ -z "$rev" ]; then
  [ -L "$base/current" ] || { echo "nothing is live, so there is no previous release" >&2; exit 3; }
  live=$(basename "$(readlink "$base/current")")
  rev=$(grep -xF -B1 -- "$live" "$base/.releases" | head -n 1)
  if [ -z "$rev" ] || [ "$rev" = "$live" ]; then echo "no release older than $live" >&2; exit 3; fi
fi
[ -d "$base/releases/$rev" ] || { echo "revision $rev is not present on this host" >&2; exit 3; }
switch_to "$rev"
report
)sh";

// $1 root  $2 app
inline constexpr const char* kRevision = R"sh(report
)sh";

}  // namespace exed::common
