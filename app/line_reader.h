// Reads a file (or stdin for "-") line by line in large blocks: replay's
// input path, where a getline per event would cost more than decoding it.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace burnrate {

// Not thread-safe. The view returned by Next() is valid until the next call.
class LineReader {
 public:
  // Opens `path` ("-" is stdin); check ok() and error().
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool ok() const { return file_ != nullptr && error_.empty(); }
  const std::string& error() const { return error_; }
  // The next line without its newline (a trailing '\r' is kept out too);
  // false at the end of the input or on a read error.
  bool Next(std::string_view& line);

 private:
  bool Refill();
  FILE* file_ = nullptr;
  bool owns_file_ = false;
  std::string error_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
};

}  // namespace burnrate
