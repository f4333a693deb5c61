#include "scan/layer_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

#include "scan/extract.h"
#include "scan/gobinary.h"
#include "scan/rpm.h"
#include "store/blob/blob_store.h"

namespace berth::scan {
namespace {

struct Source {
  explicit Source(const ReadChunk* r) : read(r) {}
  const ReadChunk* read;
  std::array<char, 64 * 1024> buffer{};
  std::string error;  // the reader's own failure, kept to report instead of libarchive's
};

la_ssize_t on_read(struct archive* a, void* data, const void** out) {
  auto* src = static_cast<Source*>(data);
  auto n = (*src->read)(std::span<char>(src->buffer));
  if (!n) {
    src->error = n.error().message;
    archive_set_error(a, EIO, "%s", src->error.c_str());
    return -1;
  }
  *out = src->buffer.data();
  return static_cast<la_ssize_t>(*n);
}

// Layer paths arrive as "./a/b", "a/b" or "/a/b"; compare them in one form.
std::string normalise(std::string_view path) {
  while (true) {
    if (path.starts_with("./")) path.remove_prefix(2);
    else if (path.starts_with("/")) path.remove_prefix(1);
    else break;
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  if (path == ".") return {};
  return std::string(path);
}

Result<void> extract_into(LayerInventory& inv, SourceKind kind, const std::string& path, std::string_view text) {
  Extracted ex;
  switch (kind) {
    case SourceKind::kOsRelease: inv.os_releases[path] = parse_os_release(text); return {};
    case SourceKind::kDpkg: {
      auto parsed = parse_dpkg_status(text);
      if (!parsed) return fail(parsed.error().code, path + " " + parsed.error().message);
      ex = std::move(*parsed);
      break;
    }
    case SourceKind::kApk: ex = parse_apk_installed(text); break;
    case SourceKind::kNpmPackage: ex = parse_npm_package_json(text); break;
    case SourceKind::kNpmLock: ex = parse_npm_lock(text); break;
    case SourceKind::kPython: ex = parse_python_metadata(text); break;
    case SourceKind::kNone:
    case SourceKind::kRpmSqlite:      // spooled to a file, not read into memory
    case SourceKind::kRpmUnreadable: return {};
  }
  inv.skipped_records += ex.skipped;
  // A file that lists nothing still matters: it replaces a lower layer's version of it.
  inv.sources.push_back(PackageSource{path, std::move(ex.packages), {}});
  return {};
}

// Streams the current entry's data to on_chunk until it returns false or the data ends.
template <class F>
Result<void> read_data(struct archive* a, F&& on_chunk) {
  std::array<char, 64 * 1024> chunk;
  while (true) {
    la_ssize_t n = archive_read_data(a, chunk.data(), chunk.size());
    if (n < 0)
      return fail(ErrorCode::kInvalidParameter, std::string("layer is corrupt or truncated: ") + archive_error_string(a));
    if (n == 0 || !on_chunk(std::string_view(chunk.data(), static_cast<size_t>(n)))) return {};
  }
}

// The private copy of an rpmdb.sqlite; removed however the scan ends.
class TempFile {
 public:
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove(path_, ec);
    }
  }
  Result<void> create(const std::filesystem::path& dir) {
    std::error_code ec;
    auto base = dir.empty() ? std::filesystem::temp_directory_path(ec) : dir;
    if (ec) return fail(ErrorCode::kInternal, "no temp directory: " + ec.message());
    std::string tmpl = (base / "berth-rpmdb-XXXXXX").string();
    fd_ = ::mkstemp(tmpl.data());  // mode 0600, O_EXCL
    if (fd_ < 0) return fail(ErrorCode::kInternal, "cannot create temp file in " + base.string());
    path_ = tmpl;
    return {};
  }
  bool write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

Result<Extracted> spool_rpmdb(struct archive* a, struct archive_entry* entry, const Limits& limits) {
  Extracted out;
  if (archive_entry_size_is_set(entry) && static_cast<uint64_t>(archive_entry_size(entry)) > limits.max_rpmdb_bytes) {
    out.unreadable = "rpmdb.sqlite larger than " + std::to_string(limits.max_rpmdb_bytes) + " bytes, not read";
    return out;
  }
  TempFile tmp;
  BERTH_TRY_VOID(tmp.create(limits.temp_dir));
  uint64_t written = 0;
  bool ok = true;
  BERTH_TRY_VOID(read_data(a, [&](std::string_view chunk) {
    std::string patched;
    if (written == 0 && chunk.size() >= 20 && chunk.starts_with(std::string_view("SQLite format 3\0", 16)) &&
        chunk[18] == 2 && chunk[19] == 2) {
      // A WAL-mode header on a copy without its -wal file: read it as a rollback-journal
      // database so SQLite never looks for (or creates) WAL files beside the copy.
      patched.assign(chunk);
      patched[18] = patched[19] = 1;
      chunk = patched;
    }
    written += chunk.size();
    if (written > limits.max_rpmdb_bytes) {
      out.unreadable = "rpmdb.sqlite larger than " + std::to_string(limits.max_rpmdb_bytes) + " bytes, not read";
      return ok = false;
    }
    return ok = tmp.write(chunk);
  }));
  if (!out.unreadable.empty()) return out;
  if (!ok || !tmp.close()) return fail(ErrorCode::kInternal, "cannot write temp copy of rpmdb.sqlite");
  return parse_rpmdb_sqlite(tmp.path());
}

// nullopt: not an ELF file, or no Go build info in the bytes examined.
Result<std::optional<Extracted>> scan_go_binary(struct archive* a, const Limits& limits) {
  GoBuildInfoScanner scanner(limits.max_binary_scan_bytes);
  bool first = true, elf = false;
  BERTH_TRY_VOID(read_data(a, [&](std::string_view chunk) {
    if (first) {
      first = false;
      elf = chunk.starts_with("\x7f" "ELF");
      if (!elf) return false;
    }
    return scanner.feed(chunk);
  }));
  if (!elf) return std::optional<Extracted>{};
  return scanner.finish();
}

}  // namespace

Result<LayerInventory> read_layer(const ReadChunk& read, const Limits& limits) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) return fail(ErrorCode::kInternal, "libarchive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  Source src(&read);
  if (archive_read_open(a.get(), &src, nullptr, on_read, nullptr) != ARCHIVE_OK) {
    if (!src.error.empty()) return fail(ErrorCode::kUnavailable, "layer unreadable: " + src.error);
    return fail(ErrorCode::kInvalidParameter,
                std::string("layer is not a tar archive: ") + archive_error_string(a.get()));
  }
  LayerInventory inv;
  uint64_t entries = 0;
  struct archive_entry* entry = nullptr;
  while (true) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      if (!src.error.empty()) return fail(ErrorCode::kUnavailable, "layer unreadable: " + src.error);
      return fail(ErrorCode::kInvalidParameter,
                  std::string("layer is corrupt or truncated: ") + archive_error_string(a.get()));
    }
    if (++entries > limits.max_entries)
      return fail(ErrorCode::kPayloadTooLarge,
                  "layer has more than " + std::to_string(limits.max_entries) + " entries");
    if (static_cast<uint64_t>(archive_filter_bytes(a.get(), 0)) > limits.max_bytes)
      return fail(ErrorCode::kPayloadTooLarge,
                  "layer expands beyond " + std::to_string(limits.max_bytes) + " bytes");
    const char* raw = archive_entry_pathname(entry);
    if (!raw) continue;
    std::string_view raw_path(raw);
    if (raw_path.size() > limits.max_path_bytes)
      return fail(ErrorCode::kPayloadTooLarge, "layer has a path longer than " +
                                                   std::to_string(limits.max_path_bytes) + " bytes");
    if (static_cast<size_t>(std::count(raw_path.begin(), raw_path.end(), '/')) > limits.max_path_depth)
      return fail(ErrorCode::kPayloadTooLarge, "layer has a path deeper than " +
                                                   std::to_string(limits.max_path_depth) + " directories");
    std::string path = normalise(raw_path);
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
    std::string_view base = slash == std::string::npos ? std::string_view(path) : std::string_view(path).substr(slash + 1);
    if (base == ".wh..wh..opq") {
      inv.opaque_dirs.push_back(dir);
      continue;
    }
    if (base.starts_with(".wh.")) {
      std::string target(base.substr(4));
      inv.whiteouts.push_back(dir.empty() ? target : dir + "/" + target);
      continue;
    }
    if (archive_entry_filetype(entry) != AE_IFREG) continue;  // symlinks are never followed
    SourceKind kind = classify(path);
    if (kind == SourceKind::kRpmUnreadable) {
      inv.sources.push_back(PackageSource{path, {}, "rpm BerkeleyDB/NDB database is not readable; only rpmdb.sqlite is"});
      continue;
    }
    if (kind == SourceKind::kRpmSqlite) {
      BERTH_TRY(auto ex, spool_rpmdb(a.get(), entry, limits));
      inv.skipped_records += ex.skipped;
      inv.sources.push_back(PackageSource{path, std::move(ex.packages), std::move(ex.unreadable)});
      continue;
    }
    if (kind == SourceKind::kNone) {
      // Any executable may be a Go binary; the rest is skipped by libarchive on the next header.
      if ((archive_entry_perm(entry) & 0111) == 0 || archive_entry_size(entry) < 64) continue;
      BERTH_TRY(auto ex, scan_go_binary(a.get(), limits));
      if (!ex) continue;
      inv.skipped_records += ex->skipped;
      inv.sources.push_back(PackageSource{path, std::move(ex->packages), std::move(ex->unreadable)});
      continue;
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > limits.max_file_bytes) {
      ++inv.skipped_records;  // an oversized manifest is reported, not read
      continue;
    }
    std::string text;
    bool too_big = false;
    BERTH_TRY_VOID(read_data(a.get(), [&](std::string_view chunk) {
      if (text.size() + chunk.size() > limits.max_file_bytes) {
        too_big = true;
        return false;
      }
      text.append(chunk);
      return true;
    }));
    if (too_big) {
      ++inv.skipped_records;
      continue;
    }
    if (!text.empty() || archive_entry_size(entry) == 0) BERTH_TRY_VOID(extract_into(inv, kind, path, text));
  }
  return inv;
}

Result<LayerInventory> read_layer(store::BlobReader& blob, const Limits& limits) {
  uint64_t offset = 0;
  ReadChunk read = [&](std::span<char> out) -> Result<size_t> {
    BERTH_TRY(size_t n, blob.read(offset, out));
    offset += n;
    return n;
  };
  return read_layer(read, limits);
}

}  // namespace berth::scan
