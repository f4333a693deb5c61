#include "scan/layer_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <array>
#include <memory>
#include <string>

#include "scan/extract.h"
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

void extract_into(LayerInventory& inv, SourceKind kind, const std::string& path, std::string_view text) {
  Extracted ex;
  switch (kind) {
    case SourceKind::kOsRelease: inv.os_releases[path] = parse_os_release(text); return;
    case SourceKind::kDpkg: ex = parse_dpkg_status(text); break;
    case SourceKind::kApk: ex = parse_apk_installed(text); break;
    case SourceKind::kNpmPackage: ex = parse_npm_package_json(text); break;
    case SourceKind::kNpmLock: ex = parse_npm_lock(text); break;
    case SourceKind::kPython: ex = parse_python_metadata(text); break;
    case SourceKind::kNone: return;
  }
  inv.skipped_records += ex.skipped;
  // A file that lists nothing still matters: it replaces a lower layer's version of it.
  inv.sources.push_back(PackageSource{path, std::move(ex.packages)});
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
    if (kind == SourceKind::kNone) continue;  // libarchive skips the data on the next header
    if (archive_entry_size_is_set(entry) &&
        static_cast<uint64_t>(archive_entry_size(entry)) > limits.max_file_bytes) {
      ++inv.skipped_records;  // an oversized manifest is reported, not read
      continue;
    }
    std::string text;
    std::array<char, 64 * 1024> chunk;
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), chunk.data(), chunk.size());
      if (n < 0)
        return fail(ErrorCode::kInvalidParameter,
                    std::string("layer is corrupt or truncated: ") + archive_error_string(a.get()));
      if (n == 0) break;
      if (text.size() + static_cast<size_t>(n) > limits.max_file_bytes) {
        text.clear();
        ++inv.skipped_records;
        break;
      }
      text.append(chunk.data(), static_cast<size_t>(n));
    }
    if (!text.empty() || archive_entry_size(entry) == 0) extract_into(inv, kind, path, text);
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
