// For tests that need image layers (src/scan, src/scanning): a tar layer built in memory
// with libarchive, plain or compressed as registries store them.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace berth::scan::fixtures {

// Fixtures name only the fields a case is about: {path, body} is a regular file.
struct TarEntry {
  std::string path;
  std::string body;
  int type = AE_IFREG;
  std::string link;  // for symlinks
  int perm = 0644;
};

// The layer holding `entries`, in order; `filter` is "none", "gzip" or "zstd".
inline std::string make_layer(const std::vector<TarEntry>& entries, std::string_view filter = "none") {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") EXPECT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  else if (filter == "zstd") EXPECT_EQ(archive_write_add_filter_zstd(a), ARCHIVE_OK);
  else EXPECT_EQ(filter, "none");
  // No padding to a 10 KiB record: the layer is as long as its content.
  archive_write_set_bytes_in_last_block(a, 1);
  // Appends to `out` rather than filling a fixed buffer, so a layer may be of any size.
  auto append = [](struct archive*, void* to, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(to)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  EXPECT_EQ(archive_write_open(a, &out, nullptr, append, nullptr), ARCHIVE_OK);
  for (const auto& f : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, f.path.c_str());
    archive_entry_set_filetype(e, static_cast<unsigned>(f.type));
    archive_entry_set_perm(e, static_cast<mode_t>(f.perm));
    if (f.type == AE_IFLNK) archive_entry_set_symlink(e, f.link.c_str());
    archive_entry_set_size(e, f.type == AE_IFREG ? static_cast<la_int64_t>(f.body.size()) : 0);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << f.path;
    if (f.type == AE_IFREG) {
      EXPECT_EQ(archive_write_data(a, f.body.data(), f.body.size()), static_cast<la_ssize_t>(f.body.size())) << f.path;
    }
    archive_entry_free(e);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// A gzip'd layer, as most images carry.
inline std::string gzip_layer(const std::vector<TarEntry>& entries) { return make_layer(entries, "gzip"); }

}  // namespace berth::scan::fixtures
