// A fresh directory for one test, removed with everything in it when the test is done.
// Unit test binaries have tests/ on their include path: #include "support/temp_dir.h".
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace berth::test {

class TempDir {
 public:
  // Under $TMPDIR (else /tmp), named `prefix`-XXXXXX so a leftover says which test made it.
  // Throws when the directory cannot be made: gtest reports that as the test's failure.
  explicit TempDir(std::string_view prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;  // a test that failed half-way must not fail again here
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace berth::test
