#include "lifecycle/evaluator.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace berth::lifecycle {
namespace {

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

bool any_tag(const Image& image, auto&& pred) {
  return std::any_of(image.tags.begin(), image.tags.end(), pred);
}

// ECR: with several prefixes or patterns, only images carrying all of them are selected.
bool selects(const Rule& rule, const Image& image) {
  switch (rule.tag_status) {
    case TagStatus::kAny:
      return true;
    case TagStatus::kUntagged:
      return image.tags.empty();
    case TagStatus::kTagged:
      for (const auto& prefix : rule.tag_prefixes) {
        if (!any_tag(image, [&](const std::string& t) { return std::string_view(t).starts_with(prefix); })) return false;
      }
      for (const auto& pattern : rule.tag_patterns) {
        if (!any_tag(image, [&](const std::string& t) { return pattern_matches(pattern, t); })) return false;
      }
      return !image.tags.empty();
  }
  return false;
}

bool older_than(int64_t at_ms, int64_t days, int64_t now_ms) { return now_ms - at_ms > days * kDayMs; }

}  // namespace

std::vector<Decision> evaluate(const Policy& policy, const std::vector<Image>& images, int64_t now_ms) {
  std::vector<Decision> out(images.size());
  std::unordered_map<std::string_view, size_t> by_digest;
  for (size_t i = 0; i < images.size(); ++i) {
    out[i].digest = images[i].digest;
    by_digest.emplace(images[i].digest, i);
  }
  // Children of an index and artifacts with a present subject are not separate units:
  // rules never select them; they follow their index or subject below.
  std::vector<std::vector<size_t>> parents(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    for (const auto& child : images[i].children) {
      if (const auto it = by_digest.find(child); it != by_digest.end() && it->second != i) parents[it->second].push_back(i);
    }
  }
  std::vector<long> subject_of(images.size(), -1);
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].subject.empty()) continue;
    if (const auto it = by_digest.find(images[i].subject); it != by_digest.end() && it->second != i) {
      subject_of[i] = static_cast<long>(it->second);
    }
  }
  std::vector<bool> claimed(images.size(), false);
  for (size_t i = 0; i < images.size(); ++i) {
    if (!parents[i].empty()) out[i].reason = Reason::kIndex;
    if (subject_of[i] >= 0) out[i].reason = Reason::kSubject;
  }
  const auto is_unit = [&](size_t i) { return parents[i].empty() && subject_of[i] < 0; };

  for (const auto& rule : policy.rules) {
    // ECR: "Rules can never mark images that are marked by higher priority rules, but can
    // still identify them as if they haven't been expired": every image the rule selects
    // takes its place in the count; mark() leaves alone what a higher rule already decided.
    std::vector<size_t> seen;
    for (size_t i = 0; i < images.size(); ++i) {
      if (is_unit(i) && selects(rule, images[i])) seen.push_back(i);
    }
    const auto mark = [&](size_t i, bool expire) {
      if (claimed[i]) return;
      claimed[i] = true;
      out[i].expired = expire;
      out[i].reason = Reason::kRule;
      out[i].rule_priority = rule.priority;
    };
    switch (rule.count_type) {
      case CountType::kImageCountMoreThan: {
        // Newest push first; ties broken by digest so a preview and the run agree.
        std::sort(seen.begin(), seen.end(), [&](size_t a, size_t b) {
          if (images[a].pushed_at_ms != images[b].pushed_at_ms) return images[a].pushed_at_ms > images[b].pushed_at_ms;
          return images[a].digest < images[b].digest;
        });
        for (size_t k = 0; k < seen.size(); ++k) mark(seen[k], static_cast<int64_t>(k) >= rule.count_number);
        break;
      }
      case CountType::kSinceImagePushed:
        for (const size_t i : seen) mark(i, older_than(images[i].pushed_at_ms, rule.count_number, now_ms));
        break;
      case CountType::kSinceImagePulled:
        for (const size_t i : seen) {
          mark(i, older_than(images[i].last_pulled_ms.value_or(images[i].pushed_at_ms), rule.count_number, now_ms));
        }
        break;
    }
  }

  // Index children go with their indexes (all of them) unless a tag keeps them; referrers
  // go with their subject. Repeat until nothing moves: indexes nest and referrers chain.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < images.size(); ++i) {
      if (out[i].expired) continue;
      if (!parents[i].empty() && images[i].tags.empty() &&
          std::all_of(parents[i].begin(), parents[i].end(), [&](size_t p) { return out[p].expired; })) {
        out[i].expired = true;
        out[i].reason = Reason::kIndex;
        out[i].rule_priority = out[parents[i].front()].rule_priority;
        changed = true;
      } else if (subject_of[i] >= 0 && out[static_cast<size_t>(subject_of[i])].expired) {
        out[i].expired = true;
        out[i].reason = Reason::kSubject;
        out[i].rule_priority = out[static_cast<size_t>(subject_of[i])].rule_priority;
        changed = true;
      }
    }
  }
  return out;
}

}  // namespace berth::lifecycle
