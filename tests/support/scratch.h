#pragma once

#include <string>
#include <string_view>

namespace burnrate::testing {

// A fresh directory under $TMPDIR (or /tmp) for a test's files: configs,
// generated streams, the output of the processes it starts. Removed with
// everything in it when the object goes, unless the test failed (for one that
// lives in a test) or any test of the process failed (for one that lives as
// long as the process), Keep() was called, or BURNRATE_KEEP_TEST_FILES is set:
// then the path is printed to stderr and the files stay for a post-mortem.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view prefix = "burnrate-test");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace burnrate::testing
