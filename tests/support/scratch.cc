#include "tests/support/scratch.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace burnrate::testing {
namespace {

// Whether what ran while this directory existed failed: the current test if
// one is running, otherwise (a directory kept for the whole process) any test.
bool SomethingFailed() {
  ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
  if (const ::testing::TestInfo* info = unit->current_test_info(); info != nullptr) {
    return info->result() != nullptr && info->result()->Failed();
  }
  return unit->Failed();
}

}  // namespace

ScratchDir::ScratchDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  if (keep_ || SomethingFailed() || std::getenv("BURNRATE_KEEP_TEST_FILES")) {
    std::fprintf(stderr, "kept test files in %s\n", path_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace burnrate::testing
