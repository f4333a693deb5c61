// Lifecycle evaluation time for one repository of 50k images (tags, untagged, indexes).
// Built on demand only: `ninja -C build/release berth_lifecycle_bench && build/release/berth_lifecycle_bench`.
#include <chrono>
#include <cstdio>
#include "lifecycle/evaluator.h"
using namespace berth::lifecycle;
// Built with append, not "literal" + string: g++ 12 -O3 warns falsely on the latter (-Werror=restrict).
static std::string digest_of(int i) { return std::string("sha256:").append(std::to_string(i)); }
int main() {
  auto p = parse_policy(R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPatternList":["v*-rc*"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},{"rulePriority":3,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10000},"action":{"type":"expire"}}]})");
  std::vector<Image> imgs;
  const int64_t day = 86400000LL, now = 20000 * day;
  for (int i = 0; i < 50000; ++i) {
    Image im; im.digest = digest_of(i); im.pushed_at_ms = now - (i % 400) * day;
    if (i % 3) im.tags = {std::string("v").append(std::to_string(i)).append(i % 5 ? "-rc1" : "")};
    if (i % 10 == 0 && i + 2 < 50000) im.children = {digest_of(i + 1), digest_of(i + 2)};
    imgs.push_back(im);
  }
  auto t = std::chrono::steady_clock::now();
  auto d = evaluate(*p, imgs, now);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  size_t e = 0; for (auto& x : d) e += x.expired;
  std::printf("50000 images, %zu expired, %.1f ms\n", e, ms);
}
