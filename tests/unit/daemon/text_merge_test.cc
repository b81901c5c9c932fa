#include "vaultd/daemon/text_merge.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace vaultd::daemon {
namespace {

// Randomized tests print their seed; VAULTD_TEST_SEED=<n> replays one.
uint64_t TestSeed(const char* test) {
  uint64_t seed;
  if (const char* env = std::getenv("VAULTD_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device{}();
  }
  std::printf("%s: seed %llu (replay with VAULTD_TEST_SEED=%llu)\n", test,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

std::string RoundTrip(std::string_view from, std::string_view to) {
  return ApplyEdits(from, DiffText(from, to));
}

// Pieces random texts are made of: ASCII words, CRLF and LF line ends,
// two- three- and four-byte characters (the last are surrogate pairs in UTF-16).
const std::vector<std::string>& Pieces() {
  static const std::vector<std::string> pieces = {
      "a",  "b", "the", "note", " ", " ",      "\n", "\n", "\r\n", "é",     "ü",     "€",
      "中", "😀", "😁",   "🎉",    "#", "- [ ] ", "x",  "y",  "z",    "lorem", "ipsum", "\t"};
  return pieces;
}

std::string RandomText(std::mt19937_64& rng, size_t pieces) {
  std::string s;
  std::uniform_int_distribution<size_t> pick(0, Pieces().size() - 1);
  for (size_t i = 0; i < pieces; ++i) s += Pieces()[pick(rng)];
  return s;
}

// Byte offsets where a character starts (valid UTF-8 only).
std::vector<size_t> Boundaries(const std::string& s) {
  std::vector<size_t> b;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (static_cast<uint8_t>(s[i]) & 0xC0) != 0x80) b.push_back(i);
  }
  return b;
}

// A few random inserts, deletes and replacements at character boundaries.
std::string Mutate(std::mt19937_64& rng, const std::string& s, int edits) {
  std::string out = s;
  for (int e = 0; e < edits; ++e) {
    auto b = Boundaries(out);
    size_t i = std::uniform_int_distribution<size_t>(0, b.size() - 1)(rng);
    size_t len =
        std::uniform_int_distribution<size_t>(0, std::min<size_t>(4, b.size() - 1 - i))(rng);
    size_t begin = b[i], end = b[i + len];
    switch (rng() % 3) {
      case 0:
        out.insert(begin, RandomText(rng, 1 + rng() % 4));
        break;
      case 1:
        out.erase(begin, end - begin);
        break;
      default:
        out.replace(begin, end - begin, RandomText(rng, 1 + rng() % 3));
        break;
    }
  }
  return out;
}

// Every inserted text of DiffText(base, side) occurs in `merged`, in order.
void ExpectRunsInOrder(const std::string& base, const std::string& side, const std::string& merged,
                       const char* which) {
  size_t at = 0;
  for (const TextEdit& e : DiffText(base, side)) {
    if (e.insert.empty()) continue;
    size_t found = merged.find(e.insert, at);
    ASSERT_NE(found, std::string::npos)
        << which << " run \"" << e.insert << "\" missing from \"" << merged << "\" (base \"" << base
        << "\", " << which << " \"" << side << "\")";
    at = found + e.insert.size();
  }
}

TEST(TextDiffTest, TypingOneWordIsOneInsert) {
  auto edits = DiffText("hello world\n", "hello big world\n");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 6u);
  EXPECT_EQ(edits[0].delete_units, 0u);
  EXPECT_EQ(edits[0].insert, "big ");
}

TEST(TextDiffTest, DeletingIsOneDelete) {
  auto edits = DiffText("one two three", "one three");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 4u);  // "two ", not "wo t"
  EXPECT_EQ(edits[0].delete_units, 4u);
  EXPECT_EQ(edits[0].insert, "");
}

TEST(TextDiffTest, InsertedLinesAreWholeLines) {
  // "b\n" inserted after "b\n" could also be "\nb" after the first "b".
  auto edits = DiffText("a\nb\nc\n", "a\nb\nb\nc\n");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].insert, "b\n");
  EXPECT_EQ(edits[0].index % 2, 0u);
}

TEST(TextDiffTest, EqualTextsGiveNoEdits) {
  EXPECT_TRUE(DiffText("", "").empty());
  EXPECT_TRUE(DiffText("same\r\n", "same\r\n").empty());
}

TEST(TextDiffTest, EmptyTexts) {
  auto edits = DiffText("", "abc");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 0u);
  EXPECT_EQ(edits[0].insert, "abc");
  edits = DiffText("a😀", "");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].delete_units, 3u);
  EXPECT_EQ(ApplyEdits("a😀", edits), "");
}

TEST(TextDiffTest, PositionsCountSurrogatePairsAsTwo) {
  EXPECT_EQ(Utf16Length("a😀b"), 4u);
  EXPECT_EQ(Utf16Length("é€中"), 3u);
  auto edits = DiffText("a😀b", "a😀xb");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 3u);
  EXPECT_EQ(edits[0].insert, "x");
}

TEST(TextDiffTest, CharactersSharingLeadingBytesAreNeverSplit) {
  // U+1F600 and U+1F601 share three of their four bytes.
  auto edits = DiffText("a😀b", "a😁b");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 1u);
  EXPECT_EQ(edits[0].delete_units, 2u);
  EXPECT_EQ(edits[0].insert, "😁");
  // é (C3 A9) and è (C3 A8): same lead byte.
  edits = DiffText("café", "cafè");
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].index, 3u);
  EXPECT_EQ(edits[0].insert, "è");
  // Common suffix bytes inside a character: "€" E2 82 AC and "¬" C2 AC.
  EXPECT_EQ(RoundTrip("x€", "x¬"), "x¬");
}

TEST(TextDiffTest, CrlfRoundTripsByteExactly) {
  std::string from = "line one\r\nline two\r\nline three\r\n";
  std::string to = "line one\r\nline 2\r\nline three\r\nfour\r\n";
  EXPECT_EQ(RoundTrip(from, to), to);
  EXPECT_EQ(RoundTrip("a\r\nb", "a\nb"), "a\nb");
  EXPECT_EQ(RoundTrip("a\nb", "a\r\nb"), "a\r\nb");
}

TEST(TextDiffTest, InvalidBytesRoundTripAndNeverCrash) {
  std::mt19937_64 rng(TestSeed("InvalidBytesRoundTripAndNeverCrash"));
  for (int round = 0; round < 2000; ++round) {
    std::string a(rng() % 24, '\0'), b;
    for (char& c : a) c = static_cast<char>(rng() % 8 == 0 ? '\n' : 0x7E + rng() % 0x82);
    b = a;
    for (int e = 0; e < 3 && !b.empty(); ++e) b[rng() % b.size()] = static_cast<char>(rng());
    if (rng() % 2) b.insert(rng() % (b.size() + 1), 1, static_cast<char>(0xF0 + rng() % 16));
    ASSERT_EQ(RoundTrip(a, b), b) << "round " << round;
    Utf16Length(b);
    MergeIntoTheirs(a, b, a + "\xF0");
  }
}

TEST(TextDiffTest, ApplyEditsClampsOutOfRangeEdits) {
  EXPECT_EQ(ApplyEdits("abc", {{10, 5, "x"}}), "abcx");
  EXPECT_EQ(ApplyEdits("abc", {{2, 0, "x"}, {0, 1, ""}}), "bxc");
}

TEST(TextDiffTest, OneWordTypedInAMegabyteIsOneEdit) {
  std::mt19937_64 rng(7);
  std::string from;
  while (from.size() < (1u << 20))
    from += "Line " + std::to_string(from.size()) + " with some text 😀\n";
  std::string to = from;
  size_t at = to.find('\n', to.size() / 2) + 1;
  to.insert(at, "typed ");
  auto edits = DiffText(from, to);
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0].insert, "typed ");
  EXPECT_EQ(edits[0].delete_units, 0u);
  EXPECT_EQ(ApplyEdits(from, edits), to);
}

TEST(TextDiffTest, ScatteredLineEditsStayLocal) {
  std::string from, to;
  for (int i = 0; i < 2000; ++i) {
    std::string line = "paragraph " + std::to_string(i) + " stays the same here\n";
    from += line;
    if (i % 100 == 50) line.insert(10, "EDIT ");
    to += line;
  }
  auto edits = DiffText(from, to);
  EXPECT_EQ(edits.size(), 20u);
  for (const auto& e : edits) EXPECT_EQ(e.insert, "EDIT ");
  EXPECT_EQ(ApplyEdits(from, edits), to);
}

TEST(TextDiffTest, LargeRewriteStaysFast) {
  std::mt19937_64 rng(11);
  std::string from = RandomText(rng, 400000), to = RandomText(rng, 400000);
  auto start = std::chrono::steady_clock::now();
  auto edits = DiffText(from, to);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ApplyEdits(from, edits), to);
  // Generous: the bound is the work budget, not this machine's speed.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(took).count(), 20);
}

TEST(TextDiffTest, RepeatedAndEmptyLinesFallBackToCoarserEdits) {
  // No line is unique and the changes are many: the diff coarsens but stays exact.
  std::string blank(3u << 20, '\n'), items;
  while (items.size() < (3u << 20)) items += "- [ ] same item\n";
  for (const std::string* from : {&blank, &items}) {
    std::string to = *from;
    for (size_t i = 0; i < to.size(); i += 4099) to[i] = 'X';
    EXPECT_EQ(ApplyEdits(*from, DiffText(*from, to)), to);
  }
}

TEST(TextDiffTest, RandomEditsRoundTrip) {
  std::mt19937_64 rng(TestSeed("RandomEditsRoundTrip"));
  for (int round = 0; round < 3000; ++round) {
    std::string from = RandomText(rng, rng() % 60);
    std::string to =
        rng() % 10 == 0 ? RandomText(rng, rng() % 60) : Mutate(rng, from, 1 + rng() % 5);
    auto edits = DiffText(from, to);
    ASSERT_EQ(ApplyEdits(from, edits), to) << "round " << round << " from \"" << from << "\"";
    for (size_t i = 1; i < edits.size(); ++i) ASSERT_GT(edits[i].index, edits[i - 1].index);
    for (const auto& e : edits) ASSERT_TRUE(e.delete_units > 0 || !e.insert.empty());
  }
}

TEST(TextMergeTest, BothSidesEditDifferentLines) {
  std::string base = "one\ntwo\nthree\n";
  std::string ours = "one!\ntwo\nthree\n";
  std::string theirs = "one\ntwo\nthree?\n";
  EXPECT_EQ(ApplyEdits(theirs, MergeIntoTheirs(base, ours, theirs)), "one!\ntwo\nthree?\n");
}

TEST(TextMergeTest, SameLineDifferentPlacesMergeCleanly) {
  std::string base = "hello world\n";
  EXPECT_EQ(
      ApplyEdits("hello world!\n", MergeIntoTheirs(base, "hello big world\n", "hello world!\n")),
      "hello big world!\n");
}

TEST(TextMergeTest, SamePlaceKeepsTheirsThenOurs) {
  std::string base = "a  b";
  std::string theirs = "a THEIRS b";
  EXPECT_EQ(ApplyEdits(theirs, MergeIntoTheirs(base, "a OURS b", theirs)), "a THEIRSOURS b");
}

TEST(TextMergeTest, OverlappingRewritesKeepBoth) {
  std::string base = "The quick fox.\n";
  std::string ours = "The slow brown fox.\n";
  std::string theirs = "The very quick cat.\n";
  std::string merged = ApplyEdits(theirs, MergeIntoTheirs(base, ours, theirs));
  ExpectRunsInOrder(base, ours, merged, "ours");
  ExpectRunsInOrder(base, theirs, merged, "theirs");
}

TEST(TextMergeTest, EditBeatsDelete) {
  std::string base = "a\nb\nc\n";
  // Ours deletes line b, theirs edits it: the edit stays.
  EXPECT_EQ(ApplyEdits("a\nbx\nc\n", MergeIntoTheirs(base, "a\nc\n", "a\nbx\nc\n")), "a\nbx\nc\n");
  // Theirs deleted line b, ours edited it: ours' line comes back.
  EXPECT_EQ(ApplyEdits("a\nc\n", MergeIntoTheirs(base, "a\nby\nc\n", "a\nc\n")), "a\nby\nc\n");
}

TEST(TextMergeTest, IdenticalChangesApplyOnce) {
  std::string base = "x\n";
  EXPECT_TRUE(MergeIntoTheirs(base, "x y\n", "x y\n").empty());
  std::string theirs = "x y\nz\n";
  EXPECT_EQ(ApplyEdits(theirs, MergeIntoTheirs(base, "x y\n", theirs)), theirs);
}

TEST(TextMergeTest, OneSidedMerges) {
  std::mt19937_64 rng(TestSeed("OneSidedMerges"));
  for (int round = 0; round < 1000; ++round) {
    std::string base = RandomText(rng, rng() % 50);
    std::string side = Mutate(rng, base, 1 + rng() % 4);
    auto from_theirs = MergeIntoTheirs(base, side, base);
    auto direct = DiffText(base, side);
    ASSERT_EQ(from_theirs.size(), direct.size());
    for (size_t i = 0; i < direct.size(); ++i) {
      EXPECT_EQ(from_theirs[i].index, direct[i].index);
      EXPECT_EQ(from_theirs[i].delete_units, direct[i].delete_units);
      EXPECT_EQ(from_theirs[i].insert, direct[i].insert);
    }
    EXPECT_TRUE(MergeIntoTheirs(base, base, side).empty());
    EXPECT_TRUE(MergeIntoTheirs(base, side, side).empty());
  }
}

TEST(TextMergeTest, RandomMergesKeepEveryInsertedRunInOrder) {
  std::mt19937_64 rng(TestSeed("RandomMergesKeepEveryInsertedRunInOrder"));
  for (int round = 0; round < 2000; ++round) {
    std::string base = RandomText(rng, rng() % 60);
    std::string ours = Mutate(rng, base, 1 + rng() % 4);
    std::string theirs = Mutate(rng, base, 1 + rng() % 4);
    auto edits = MergeIntoTheirs(base, ours, theirs);
    auto again = MergeIntoTheirs(base, ours, theirs);  // deterministic
    ASSERT_EQ(again.size(), edits.size());
    for (size_t i = 0; i < edits.size(); ++i) {
      EXPECT_TRUE(again[i].index == edits[i].index && again[i].insert == edits[i].insert);
    }
    std::string merged = ApplyEdits(theirs, edits);
    SCOPED_TRACE("round " + std::to_string(round));
    ExpectRunsInOrder(base, ours, merged, "ours");
    ExpectRunsInOrder(base, theirs, merged, "theirs");
    if (HasFailure()) return;
  }
}

// Base lines with unique ids; each side replaces, deletes or appends after a
// few lines, never within one line of a line the other side touched. The
// merge must equal picking, per base line, the side that touched it.
TEST(TextMergeTest, RandomNonOverlappingMergesEqualTheLineBasedExpectation) {
  std::mt19937_64 rng(TestSeed("RandomNonOverlappingMergesEqualTheLineBasedExpectation"));
  int next_id = 0;
  auto line = [&](const char* tag) {
    return std::string(tag) + std::to_string(next_id++) + " " + RandomText(rng, rng() % 6) + "\n";
  };
  for (int round = 0; round < 500; ++round) {
    size_t n = 5 + rng() % 40;
    std::vector<std::string> base_lines;
    for (size_t i = 0; i < n; ++i) base_lines.push_back(line("L"));
    std::vector<std::vector<std::string>> ours_out, theirs_out;
    for (auto& l : base_lines) ours_out.push_back({l});
    theirs_out = ours_out;
    std::vector<int> owner(n, 0);  // 0 untouched, 1 ours, 2 theirs
    for (int t = 0; t < 6; ++t) {
      size_t i = rng() % n;
      int side = 1 + static_cast<int>(rng() % 2);
      bool clash = false;
      for (size_t j = i > 2 ? i - 2 : 0; j < std::min(n, i + 3); ++j) {
        if (owner[j] != 0 && owner[j] != side) clash = true;
      }
      if (clash || owner[i] != 0) continue;
      owner[i] = side;
      auto& out = (side == 1 ? ours_out : theirs_out)[i];
      switch (rng() % 4) {
        case 0:
          out.clear();
          break;
        case 1:
          out.push_back(line("N"));
          break;
        case 2:
          out = {line("M")};
          break;
        default:
          out[0].insert(out[0].size() - 1, " " + RandomText(rng, 1 + rng() % 3));
          break;
      }
    }
    auto join = [&](const std::vector<std::vector<std::string>>& o, int prefer) {
      std::string s;
      for (size_t i = 0; i < n; ++i) {
        const auto& pick = prefer == 0 ? o[i] : (owner[i] == 1 ? ours_out[i] : theirs_out[i]);
        for (const auto& l : pick) s += l;
      }
      return s;
    };
    std::string base;
    for (auto& l : base_lines) base += l;
    std::string ours = join(ours_out, 0), theirs = join(theirs_out, 0);
    std::string expected = join(ours_out, 1);
    ASSERT_EQ(ApplyEdits(theirs, MergeIntoTheirs(base, ours, theirs)), expected)
        << "round " << round << "\nbase:\n"
        << base << "ours:\n"
        << ours << "theirs:\n"
        << theirs;
  }
}

}  // namespace
}  // namespace vaultd::daemon
