#include "vaultd/daemon/text_merge.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>

namespace vaultd::daemon {
namespace {

// --- Characters -------------------------------------------------------------
//
// Characters as common/utf8.h counts them (Utf8CharLength): for valid UTF-8
// the code points; for invalid input a rule that is the same everywhere (diff,
// positions, apply), so nothing reads out of bounds and positions stay
// consistent.

bool IsCont(uint8_t c) { return (c & 0xC0) == 0x80; }

// A 4-byte sequence is a character outside the BMP: a surrogate pair in UTF-16.
uint64_t UnitsOf(size_t char_len) { return char_len == 4 ? 2 : 1; }

// Whether byte offset p starts a character (or is the end) of s.
bool IsBoundary(std::string_view s, size_t p) {
  if (p == 0 || p >= s.size()) return true;
  if (!IsCont(static_cast<uint8_t>(s[p]))) return true;
  for (size_t k = 1; k <= 3 && k <= p; ++k) {
    auto c = static_cast<uint8_t>(s[p - k]);
    if (!IsCont(c)) return c < 0x80 || Utf8SequenceLength(c) <= k;
  }
  return true;
}

// --- Sequence diff ----------------------------------------------------------

// A changed region: a[a0, a1) became b[b0, b1).
struct Hunk {
  size_t a0, a1, b0, b1;
};

void PushHunk(std::vector<Hunk>* out, Hunk h) {
  if (h.a0 == h.a1 && h.b0 == h.b1) return;
  if (!out->empty() && out->back().a1 == h.a0 && out->back().b1 == h.b0) {
    out->back().a1 = h.a1;
    out->back().b1 = h.b1;
    return;
  }
  out->push_back(h);
}

// Shared work budget: once spent, the diff falls back to coarser hunks.
struct Budget {
  int64_t remaining;
};

constexpr int64_t kMyersCallCap = 1'000'000;  // also bounds the trace to ~1,400 steps

// Myers' O(ND) greedy diff of a[as, ae) against b[bs, be), keeping the furthest
// point of every diagonal per step so the path can be walked back. Returns
// false (and appends nothing) when the work exceeds the budget.
bool Myers(const std::vector<uint32_t>& a, size_t as, size_t ae, const std::vector<uint32_t>& b,
           size_t bs, size_t be, Budget* budget, std::vector<Hunk>* out) {
  const int64_t n = static_cast<int64_t>(ae - as);
  const int64_t m = static_cast<int64_t>(be - bs);
  int64_t cap = std::min(budget->remaining, kMyersCallCap);
  if (cap <= 0) return false;
  // Step d costs at least 2d+1, so the budget bounds d (and the arrays).
  int64_t max = n + m;
  int64_t d_limit = 1;
  while (d_limit * d_limit <= cap) ++d_limit;
  max = std::min(max, d_limit);
  std::vector<int64_t> v(static_cast<size_t>(2 * max + 3), 0);
  const int64_t off = max + 1;
  std::vector<int64_t> trace;  // step d holds x for k in [-d, d] at offset d*d
  int64_t work = 0;
  int64_t found = -1;
  for (int64_t d = 0; d <= max; ++d) {
    for (int64_t k = -d; k <= d; k += 2) {
      int64_t x;
      if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) {
        x = v[off + k + 1];
      } else {
        x = v[off + k - 1] + 1;
      }
      const int64_t x0 = x;
      int64_t y = x - k;
      while (x < n && y < m && a[as + x] == b[bs + y]) {
        ++x;
        ++y;
      }
      work += x - x0;
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    for (int64_t k = -d; k <= d; ++k) trace.push_back(v[off + k]);
    work += 2 * d + 1;
    if (found >= 0) break;
    if (work > cap) {
      budget->remaining -= work;
      return false;
    }
  }
  budget->remaining -= work;
  if (found < 0) return false;
  // Walk back from (n, m), collecting the equal runs (snakes) in reverse.
  struct Run {
    int64_t x, y, len;
  };
  std::vector<Run> runs;
  int64_t x = n, y = m;
  for (int64_t d = found; d > 0; --d) {
    const int64_t k = x - y;
    const int64_t* prev = &trace[static_cast<size_t>((d - 1) * (d - 1))];
    auto at = [&](int64_t kk) { return prev[kk + d - 1]; };
    int64_t prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    int64_t prev_x = at(prev_k);
    int64_t prev_y = prev_x - prev_k;
    int64_t mid_x = prev_k == k + 1 ? prev_x : prev_x + 1;
    int64_t mid_y = mid_x - k;
    if (x > mid_x) runs.push_back({mid_x, mid_y, x - mid_x});
    x = prev_x;
    y = prev_y;
  }
  if (x > 0) runs.push_back({0, 0, x});
  size_t ca = 0, cb = 0;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    PushHunk(out,
             {as + ca, as + static_cast<size_t>(it->x), bs + cb, bs + static_cast<size_t>(it->y)});
    ca = static_cast<size_t>(it->x + it->len);
    cb = static_cast<size_t>(it->y + it->len);
  }
  PushHunk(out, {as + ca, ae, bs + cb, be});
  return true;
}

// Per-token counts for the patience step, indexed by token id (ids are dense);
// each call clears what it touched.
struct Seen {
  uint32_t in_a = 0, in_b = 0;
  size_t pos_a = 0, pos_b = 0;
};

// Patience anchors: tokens that occur exactly once in each range, the longest
// chain of them in the same order in both. Pairs (index in a, index in b).
std::vector<std::pair<size_t, size_t>> PatienceAnchors(const std::vector<uint32_t>& a, size_t as,
                                                       size_t ae, const std::vector<uint32_t>& b,
                                                       size_t bs, size_t be,
                                                       std::vector<Seen>* seen) {
  for (size_t i = as; i < ae; ++i) {
    Seen& s = (*seen)[a[i]];
    ++s.in_a;
    s.pos_a = i;
  }
  for (size_t j = bs; j < be; ++j) {
    Seen& s = (*seen)[b[j]];
    ++s.in_b;
    s.pos_b = j;
  }
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t i = as; i < ae; ++i) {
    const Seen& s = (*seen)[a[i]];
    if (s.in_a == 1 && s.in_b == 1) pairs.emplace_back(i, s.pos_b);
  }
  for (size_t i = as; i < ae; ++i) (*seen)[a[i]] = Seen{};
  for (size_t j = bs; j < be; ++j) (*seen)[b[j]] = Seen{};
  // Longest increasing subsequence of pos_b (pairs are already by pos_a).
  std::vector<size_t> tails;  // index into pairs of the smallest tail per length
  std::vector<size_t> parent(pairs.size(), SIZE_MAX);
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto it = std::lower_bound(tails.begin(), tails.end(), pairs[i].second,
                               [&](size_t t, size_t val) { return pairs[t].second < val; });
    if (it != tails.begin()) parent[i] = *(it - 1);
    if (it == tails.end()) {
      tails.push_back(i);
    } else {
      *it = i;
    }
  }
  std::vector<std::pair<size_t, size_t>> chain;
  for (size_t i = tails.empty() ? SIZE_MAX : tails.back(); i != SIZE_MAX; i = parent[i]) {
    chain.push_back(pairs[i]);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

constexpr size_t kMyersFirst = 4096;  // ranges this small try Myers before anchors
constexpr int kMaxDepth = 12;

// Line-level diff: common ends trimmed, then Myers for small ranges, patience
// anchors for large ones, and one hunk when neither fits the budget.
void DiffTokens(const std::vector<uint32_t>& a, size_t as, size_t ae,
                const std::vector<uint32_t>& b, size_t bs, size_t be, int depth, Budget* budget,
                std::vector<Seen>* seen, std::vector<Hunk>* out) {
  while (as < ae && bs < be && a[as] == b[bs]) ++as, ++bs;
  while (as < ae && bs < be && a[ae - 1] == b[be - 1]) --ae, --be;
  if (as == ae || bs == be) {
    PushHunk(out, {as, ae, bs, be});
    return;
  }
  if ((ae - as) + (be - bs) <= kMyersFirst && Myers(a, as, ae, b, bs, be, budget, out)) return;
  if (depth < kMaxDepth) {
    auto anchors = PatienceAnchors(a, as, ae, b, bs, be, seen);
    if (!anchors.empty()) {
      size_t ca = as, cb = bs;
      for (auto [ia, ib] : anchors) {
        DiffTokens(a, ca, ia, b, cb, ib, depth + 1, budget, seen, out);
        ca = ia + 1;
        cb = ib + 1;
      }
      DiffTokens(a, ca, ae, b, cb, be, depth + 1, budget, seen, out);
      return;
    }
  }
  if ((ae - as) + (be - bs) > kMyersFirst && Myers(a, as, ae, b, bs, be, budget, out)) return;
  PushHunk(out, {as, ae, bs, be});
}

// --- Text diff --------------------------------------------------------------

// from[a0, a1) became to[b0, b1) (byte offsets).
using Change = Hunk;

// Characters of s[begin, end) as tokens (their bytes packed; lengths differ in
// their lead byte's range, so tokens of different lengths never collide).
void CharTokens(std::string_view s, size_t begin, size_t end, std::vector<uint32_t>* tokens,
                std::vector<size_t>* offsets) {
  std::string_view part = s.substr(begin, end - begin);
  size_t i = 0;
  while (i < part.size()) {
    size_t len = Utf8CharLength(part, i);
    uint32_t t = 0;
    for (size_t k = 0; k < len; ++k) t = (t << 8) | static_cast<uint8_t>(part[i + k]);
    tokens->push_back(t);
    offsets->push_back(begin + i);
    i += len;
  }
  offsets->push_back(end);
}

// Merges an unchanged stretch into the changes around it when it is no longer
// than the change on either side: a rewritten sentence becomes one edit, not
// a scatter of edits around coincidentally equal letters.
void AbsorbShortEqualities(std::vector<Hunk>* hunks) {
  bool changed = true;
  while (changed && hunks->size() > 1) {
    changed = false;
    std::vector<Hunk> merged;
    merged.push_back((*hunks)[0]);
    for (size_t i = 1; i < hunks->size(); ++i) {
      Hunk& prev = merged.back();
      const Hunk& next = (*hunks)[i];
      size_t gap = next.a0 - prev.a1;  // equal stretch, same length on both sides
      size_t before = std::max(prev.a1 - prev.a0, prev.b1 - prev.b0);
      size_t after = std::max(next.a1 - next.a0, next.b1 - next.b0);
      if (gap <= before && gap <= after) {
        prev.a1 = next.a1;
        prev.b1 = next.b1;
        changed = true;
      } else {
        merged.push_back(next);
      }
    }
    hunks->swap(merged);
  }
}

constexpr size_t kRefineMaxBytes = 64 << 10;  // larger line hunks stay one edit

// Refines one changed line region into character edits (byte offsets).
void RefineByChars(std::string_view from, std::string_view to, const Hunk& lines, Budget* budget,
                   std::vector<Change>* out) {
  if (lines.a0 == lines.a1 || lines.b0 == lines.b1 || lines.a1 - lines.a0 > kRefineMaxBytes ||
      lines.b1 - lines.b0 > kRefineMaxBytes) {
    PushHunk(out, lines);
    return;
  }
  std::vector<uint32_t> ta, tb;
  std::vector<size_t> oa, ob;
  CharTokens(from, lines.a0, lines.a1, &ta, &oa);
  CharTokens(to, lines.b0, lines.b1, &tb, &ob);
  size_t as = 0, ae = ta.size(), bs = 0, be = tb.size();
  while (as < ae && bs < be && ta[as] == tb[bs]) ++as, ++bs;
  while (as < ae && bs < be && ta[ae - 1] == tb[be - 1]) --ae, --be;
  std::vector<Hunk> chars;
  if (as == ae || bs == be || !Myers(ta, as, ae, tb, bs, be, budget, &chars)) {
    chars.clear();
    chars.push_back({as, ae, bs, be});
  }
  // To byte offsets; equal stretches compare by bytes from here on.
  for (Hunk& h : chars) h = {oa[h.a0], oa[h.a1], ob[h.b0], ob[h.b1]};
  AbsorbShortEqualities(&chars);
  for (const Hunk& h : chars) PushHunk(out, h);
}

constexpr int64_t kDiffBudget = 8'000'000;
// Line diff costs ~100 ns a line; past this many the middle is one edit.
constexpr size_t kMaxLines = 1 << 20;

// Line -> dense id, open addressing over a word-at-a-time hash (the line
// split is most of a large diff's time; std::unordered_map was twice as slow).
class LineIds {
 public:
  explicit LineIds(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, kEmpty);
    lines_.reserve(expected);
  }
  size_t size() const { return lines_.size(); }

  // Appends the ids of the lines of s[begin, end) and their start offsets
  // (plus `end`).
  void Split(std::string_view s, size_t begin, size_t end, std::vector<uint32_t>* tokens,
             std::vector<size_t>* offsets) {
    size_t i = begin;
    while (i < end) {
      const void* nl = std::memchr(s.data() + i, '\n', end - i);
      size_t stop = nl ? static_cast<size_t>(static_cast<const char*>(nl) - s.data()) + 1 : end;
      tokens->push_back(Id(s.substr(i, stop - i)));
      offsets->push_back(i);
      i = stop;
    }
    offsets->push_back(end);
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  static uint64_t Hash(std::string_view line) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ line.size();
    size_t i = 0;
    for (; i + 8 <= line.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, line.data() + i, 8);
      h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
      h ^= h >> 32;
    }
    uint64_t w = 0;
    std::memcpy(&w, line.data() + i, line.size() - i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
  }

  uint32_t Id(std::string_view line) {
    uint64_t h = Hash(line);
    size_t mask = slots_.size() - 1;
    for (size_t at = h & mask;; at = (at + 1) & mask) {
      uint32_t id = slots_[at];
      if (id == kEmpty) {
        if (lines_.size() * 2 >= slots_.size()) Grow();
        id = static_cast<uint32_t>(lines_.size());
        lines_.push_back({line, h});
        Place(id);
        return id;
      }
      if (lines_[id].hash == h && lines_[id].text == line) return id;
    }
  }

  void Place(uint32_t id) {
    size_t mask = slots_.size() - 1;
    size_t at = lines_[id].hash & mask;
    while (slots_[at] != kEmpty) at = (at + 1) & mask;
    slots_[at] = id;
  }

  void Grow() {
    slots_.assign(slots_.size() * 2, kEmpty);
    for (uint32_t id = 0; id < lines_.size(); ++id) Place(id);
  }

  struct Line {
    std::string_view text;
    uint64_t hash;
  };
  std::vector<uint32_t> slots_;
  std::vector<Line> lines_;
};

// How good a place for an edit's end the gap between s[p-1] and s[p] is:
// text ends and line breaks first, then spaces, then punctuation.
int BoundaryScore(std::string_view s, size_t p) {
  if (p == 0 || p >= s.size()) return 6;
  char x = s[p - 1], y = s[p];
  if (x == '\n') return 5;
  if (y == '\n' || y == '\r') return 4;
  auto space = [](char c) { return c == ' ' || c == '\t'; };
  if (space(x) || space(y)) return 2;
  auto punct = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x80 &&
           !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  };
  if (punct(x) || punct(y)) return 1;
  return 0;
}

constexpr size_t kMaxSlide = 256;

// A pure insertion or deletion next to text that repeats its own ends can sit
// at several places ("one two three" -> "one three" deletes "wo t" as well as
// "two "). Slides each over such ASCII bytes, within the unchanged stretch
// around it, to the place whose ends score best (the rightmost on ties), so
// edits tend to cover whole words and lines.
void SlideToWordBoundaries(std::string_view from, std::string_view to,
                           std::vector<Change>* changes) {
  for (size_t i = 0; i < changes->size(); ++i) {
    Change& c = (*changes)[i];
    bool insertion = c.a0 == c.a1;
    if (!insertion && c.b0 != c.b1) continue;
    // The changed run lives in `s` at [s0, s1); the other side is empty.
    std::string_view s = insertion ? to : from;
    size_t s0 = insertion ? c.b0 : c.a0, s1 = insertion ? c.b1 : c.a1;
    size_t lower = s0, upper = s1;  // how far the run may move (bytes, in s)
    size_t room_left = i == 0 ? c.a0 : c.a0 - (*changes)[i - 1].a1 - 1;
    size_t room_right =
        i + 1 == changes->size() ? from.size() - c.a1 : (*changes)[i + 1].a0 - c.a1 - 1;
    for (size_t k = 0; k < kMaxSlide && k < room_left; ++k) {
      char x = s[lower - 1];
      if (static_cast<unsigned char>(x) >= 0x80 || x != s[upper - 1]) break;
      --lower;
      --upper;
    }
    size_t best = lower;
    int best_value = -1;
    for (size_t shift = 0; shift <= kMaxSlide; ++shift) {
      size_t b = lower + shift, e = upper + shift;
      if (shift > 0) {
        if (b > s0 && b - s0 > room_right) break;
        char x = s[b - 1];
        if (e > s.size() || static_cast<unsigned char>(x) >= 0x80 || x != s[e - 1]) break;
      }
      int value = BoundaryScore(s, b) + BoundaryScore(s, e);
      if (value >= best_value) {
        best_value = value;
        best = b;
      }
    }
    if (best == s0) continue;
    if (best < s0) {
      size_t d = s0 - best;
      c.a0 -= d, c.a1 -= d, c.b0 -= d, c.b1 -= d;
    } else {
      size_t d = best - s0;
      c.a0 += d, c.a1 += d, c.b0 += d, c.b1 += d;
    }
  }
}

// Byte-level changes from `from` to `to`, ascending and coalesced, every
// offset a character boundary in its text.
std::vector<Change> DiffChanges(std::string_view from, std::string_view to) {
  std::vector<Change> changes;
  const size_t n = from.size(), m = to.size();
  size_t limit = std::min(n, m);
  size_t prefix = 0;
  while (prefix < limit && from[prefix] == to[prefix]) ++prefix;
  while (prefix > 0 && (!IsBoundary(from, prefix) || !IsBoundary(to, prefix))) --prefix;
  size_t suffix = 0;
  while (suffix < limit - prefix && from[n - 1 - suffix] == to[m - 1 - suffix]) ++suffix;
  while (suffix > 0 && (!IsBoundary(from, n - suffix) || !IsBoundary(to, m - suffix))) --suffix;
  const size_t fe = n - suffix, te = m - suffix;
  if (prefix == fe && prefix == te) return changes;
  if (prefix == fe || prefix == te) {
    changes.push_back({prefix, fe, prefix, te});
    SlideToWordBoundaries(from, to, &changes);
    return changes;
  }

  // Lines of the middles (each with its '\n'), as ids shared by both texts.
  size_t lines = static_cast<size_t>(std::count(from.begin() + prefix, from.begin() + fe, '\n') +
                                     std::count(to.begin() + prefix, to.begin() + te, '\n')) +
                 2;
  if (lines > kMaxLines) {
    // Pathological (megabytes of near-empty lines): one replacement.
    changes.push_back({prefix, fe, prefix, te});
    return changes;
  }
  LineIds ids(lines);
  std::vector<uint32_t> la, lb;
  std::vector<size_t> oa, ob;
  ids.Split(from, prefix, fe, &la, &oa);
  ids.Split(to, prefix, te, &lb, &ob);
  Budget budget{kDiffBudget};
  std::vector<Hunk> line_hunks;
  std::vector<Seen> seen(ids.size());
  DiffTokens(la, 0, la.size(), lb, 0, lb.size(), 0, &budget, &seen, &line_hunks);
  for (const Hunk& h : line_hunks) {
    RefineByChars(from, to, {oa[h.a0], oa[h.a1], ob[h.b0], ob[h.b1]}, &budget, &changes);
  }
  SlideToWordBoundaries(from, to, &changes);
  return changes;
}

// UTF-16 units of s[begin, end).
uint64_t Units(std::string_view s, size_t begin, size_t end) {
  return Utf16Length(s.substr(begin, end - begin));
}

// A byte-range replacement in the text the edits apply to.
struct ByteEdit {
  size_t begin, end;
  std::string_view insert;
};

std::vector<TextEdit> ToTextEdits(std::string_view text, const std::vector<ByteEdit>& edits) {
  std::vector<TextEdit> out;
  out.reserve(edits.size());
  uint64_t units = 0;  // UTF-16 position of `cursor` in the original text
  size_t cursor = 0;
  int64_t shift = 0;  // what the earlier edits added (UTF-16 units)
  for (const ByteEdit& e : edits) {
    units += Units(text, cursor, e.begin);
    uint64_t removed = Units(text, e.begin, e.end);
    uint64_t added = Utf16Length(e.insert);
    out.push_back({static_cast<uint64_t>(static_cast<int64_t>(units) + shift), removed,
                   std::string(e.insert)});
    shift += static_cast<int64_t>(added) - static_cast<int64_t>(removed);
    units += removed;
    cursor = e.end;
  }
  return out;
}

// Byte offset reached from `from` after `units` UTF-16 units (stopping before a
// character that would overshoot, and at the end of the text).
size_t AdvanceUnits(std::string_view s, size_t from, uint64_t units, uint64_t* walked) {
  size_t i = from;
  uint64_t w = 0;
  while (i < s.size() && w < units) {
    size_t len = Utf8CharLength(s, i);
    uint64_t u = UnitsOf(len);
    if (w + u > units) break;
    w += u;
    i += len;
  }
  if (walked) *walked = w;
  return i;
}

}  // namespace

std::vector<TextEdit> DiffText(std::string_view from, std::string_view to) {
  std::vector<ByteEdit> edits;
  for (const Change& c : DiffChanges(from, to)) {
    edits.push_back({c.a0, c.a1, to.substr(c.b0, c.b1 - c.b0)});
  }
  return ToTextEdits(from, edits);
}

std::vector<TextEdit> MergeIntoTheirs(std::string_view base, std::string_view ours,
                                      std::string_view theirs) {
  const std::vector<Change> mine = DiffChanges(base, ours);
  const std::vector<Change> other = DiffChanges(base, theirs);
  if (mine.empty()) return {};

  // Both sides' changes in base order; at one offset an insertion comes first.
  struct Item {
    const Change* change;
    bool ours;
  };
  std::vector<Item> items;
  items.reserve(mine.size() + other.size());
  size_t i = 0, j = 0;
  auto before = [](const Change& x, const Change& y) {
    if (x.a0 != y.a0) return x.a0 < y.a0;
    return x.a0 == x.a1 && y.a0 != y.a1;
  };
  while (i < mine.size() || j < other.size()) {
    if (j == other.size() || (i < mine.size() && before(mine[i], other[j]))) {
      items.push_back({&mine[i++], true});
    } else {
      items.push_back({&other[j++], false});
    }
  }

  std::vector<ByteEdit> edits;
  std::deque<std::string> owned;  // texts the edits point into (a deque keeps them in place)
  auto emit = [&](ByteEdit e) {
    if (!edits.empty() && edits.back().end == e.begin) {
      // Adjacent edits become one (their texts are consecutive in the output).
      owned.push_back(std::string(edits.back().insert) + std::string(e.insert));
      edits.back().end = e.end;
      edits.back().insert = owned.back();
      return;
    }
    edits.push_back(e);
  };

  size_t bpos = 0;  // base offset reached
  size_t tpos = 0;  // the matching offset in theirs
  size_t k = 0;
  while (k < items.size()) {
    // A group: changes that overlap, or insertions strictly inside a range, or
    // insertions at one offset from both sides.
    size_t gs = items[k].change->a0, ge = items[k].change->a1;
    size_t g_end = k + 1;
    while (g_end < items.size()) {
      const Change& y = *items[g_end].change;
      bool joins =
          ge > gs ? (y.a0 < ge && (y.a0 != y.a1 || y.a0 > gs)) : (y.a0 == y.a1 && y.a0 == gs);
      if (!joins) break;
      ge = std::max(ge, y.a1);
      ++g_end;
    }
    tpos += gs - bpos;
    bool has_ours = false, has_theirs = false;
    for (size_t x = k; x < g_end; ++x) (items[x].ours ? has_ours : has_theirs) = true;
    if (!has_theirs) {
      // Only ours changed here: apply at the mapped place.
      for (size_t x = k; x < g_end; ++x) {
        const Change& c = *items[x].change;
        size_t at = tpos + (c.a0 - gs);
        emit({at, at + (c.a1 - c.a0), ours.substr(c.b0, c.b1 - c.b0)});
      }
      tpos += ge - gs;
    } else {
      size_t theirs_len = ge - gs;
      std::string ours_version;
      size_t cursor = gs;
      for (size_t x = k; x < g_end; ++x) {
        const Change& c = *items[x].change;
        if (items[x].ours) {
          ours_version.append(base.substr(cursor, c.a0 - cursor));
          ours_version.append(ours.substr(c.b0, c.b1 - c.b0));
          cursor = c.a1;
        } else {
          theirs_len = theirs_len + (c.b1 - c.b0) - (c.a1 - c.a0);
        }
      }
      if (has_ours) {
        ours_version.append(base.substr(cursor, ge - cursor));
        // Both changed: theirs stays, ours follows it, unless theirs already
        // holds ours' version here (the same change, or ours only deleted).
        std::string_view theirs_version = theirs.substr(tpos, theirs_len);
        if (theirs_version.find(ours_version) == std::string_view::npos) {
          owned.push_back(std::move(ours_version));
          emit({tpos + theirs_len, tpos + theirs_len, owned.back()});
        }
      }
      tpos += theirs_len;
    }
    bpos = ge;
    k = g_end;
  }
  return ToTextEdits(theirs, edits);
}

std::string ApplyEdits(std::string_view text, const std::vector<TextEdit>& edits) {
  std::string out;
  out.reserve(text.size());
  uint64_t out_units = 0;  // UTF-16 length of `out`
  size_t cursor = 0;       // bytes of `text` consumed
  size_t e = 0;
  for (; e < edits.size(); ++e) {
    const TextEdit& edit = edits[e];
    if (edit.index < out_units) break;  // not ascending: the general path below
    uint64_t walked = 0;
    size_t at = AdvanceUnits(text, cursor, edit.index - out_units, &walked);
    out.append(text.substr(cursor, at - cursor));
    out_units += walked;
    cursor = AdvanceUnits(text, at, edit.delete_units, nullptr);
    out.append(edit.insert);
    out_units += Utf16Length(edit.insert);
  }
  out.append(text.substr(cursor));
  // Edits out of order: each one on the whole text (slow, never taken by
  // edits this file produces).
  for (; e < edits.size(); ++e) {
    const TextEdit& edit = edits[e];
    size_t at = AdvanceUnits(out, 0, edit.index, nullptr);
    size_t end = AdvanceUnits(out, at, edit.delete_units, nullptr);
    out.replace(at, end - at, edit.insert);
  }
  return out;
}

}  // namespace vaultd::daemon
