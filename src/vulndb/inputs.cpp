#include "vulndb/inputs.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <memory>
#include <system_error>
#include <vector>

namespace berth::vulndb {
namespace {

namespace fs = std::filesystem;

std::string too_large(size_t max) {
  return "larger than " + std::to_string(max / (1024 * 1024)) + " MiB";
}

Result<std::string> read_file(const fs::path& path, size_t max) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return fail(ErrorCode::kInvalidParameter, "cannot stat: " + ec.message());
  if (size > max) return fail(ErrorCode::kInvalidParameter, too_large(max));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kInvalidParameter, "cannot open");
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) return fail(ErrorCode::kInvalidParameter, "short read");
  return text;
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Every regular entry of the archive, in archive order. A corrupt archive ends the walk
// with one error for the archive itself; the entries read before it stand.
void read_archive(const fs::path& path, const std::string& label, size_t max, const InputVisitor& visit) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) {
    visit(label, fail(ErrorCode::kInternal, "libarchive could not allocate a reader"));
    return;
  }
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    visit(label, fail(ErrorCode::kInvalidParameter, std::string("not a readable zip archive: ") +
                                                         archive_error_string(a.get())));
    return;
  }
  archive_entry* entry = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) return;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      visit(label, fail(ErrorCode::kInvalidParameter, std::string("corrupt archive: ") + archive_error_string(a.get())));
      return;
    }
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    const char* entry_name = archive_entry_pathname(entry);
    const std::string name = label + ":" + (entry_name ? entry_name : "?");
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > static_cast<la_int64_t>(max)) {
      visit(name, fail(ErrorCode::kInvalidParameter, too_large(max)));
      continue;  // libarchive skips the entry's data on the next header read
    }
    std::string text;
    char buf[64 * 1024];
    bool failed = false;
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        visit(name, fail(ErrorCode::kInvalidParameter, std::string("cannot read entry: ") +
                                                            archive_error_string(a.get())));
        failed = true;
        break;
      }
      // The declared size can lie (or be absent): the limit holds for what is inflated.
      if (text.size() + static_cast<size_t>(n) > max) {
        visit(name, fail(ErrorCode::kInvalidParameter, too_large(max)));
        failed = true;
        break;
      }
      text.append(buf, static_cast<size_t>(n));
    }
    if (failed) continue;  // a fatal error shows on the next header read
    visit(name, std::move(text));
  }
}

bool hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name.front() == '.';
}

void read_one(const fs::path& path, const std::string& label, size_t max, const InputVisitor& visit) {
  if (is_archive_name(path.filename().string())) {
    read_archive(path, label, max, visit);
  } else {
    visit(label, read_file(path, max));
  }
}

}  // namespace

bool is_archive_name(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".zip";
}

Result<void> read_inputs(const fs::path& root, size_t max_file_bytes, const InputVisitor& visit) {
  std::error_code ec;
  const auto status = fs::status(root, ec);
  if (ec || !fs::exists(status)) return fail(ErrorCode::kNotFound, root.string() + " does not exist");
  if (fs::is_regular_file(status)) {
    read_one(root, root.filename().string(), max_file_bytes, visit);
    return {};
  }
  if (!fs::is_directory(status)) {
    return fail(ErrorCode::kInvalidParameter, root.string() + " is neither a file nor a directory");
  }
  // Name order, so an import's result never depends on the directory's storage order.
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return fail(ErrorCode::kInvalidParameter, "cannot read " + root.string() + ": " + ec.message());
  for (fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return fail(ErrorCode::kInvalidParameter, "cannot read " + root.string() + ": " + ec.message());
    if (hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) read_one(f, f.lexically_relative(root).generic_string(), max_file_bytes, visit);
  return {};
}

}  // namespace berth::vulndb
