// Permission tests: root reads everything, so a check of what an unreadable
// file or folder does runs as `nobody` in a child process. The files it looks
// at must sit where nobody can reach them: below a WorldScratch
// (tests/support/scratch.h), not the build tree, whose parents may be 0700.
#pragma once

#include <functional>
#include <string>

namespace imgsearchd::test {

// The result of running a check in a child process.
struct ChildOutcome {
  bool ran = false;     // false: the check did not run (the child could not become nobody)
  std::string failure;  // empty when the check passed
};

// Runs `check` in a child process: as root, after becoming nobody
// (uid/gid 65534, no supplementary groups); as anyone else, as that user
// (chmod 000 denies a file's owner too). `check` returns an empty string on
// success, else what was wrong.
ChildOutcome run_unprivileged(const std::function<std::string()>& check);

}  // namespace imgsearchd::test
