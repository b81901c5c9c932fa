// Text edits for the bridge: the minimal edit from one text to another, and
// the three-way merge that carries a local edit onto a document that moved.
//
// Texts are UTF-8; edit positions and lengths count UTF-16 code units, as
// Y.Text does (a character outside the BMP counts 2). Inputs must be valid
// UTF-8 (the bridge checks before calling); invalid bytes are not an error
// here: each one counts as a character of one unit, so nothing reads out of
// bounds and ApplyEdits(from, DiffText(from, to)) == to still holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vaultd/common/utf8.h"  // Utf16Length: the units positions count

namespace vaultd::daemon {

// Delete `delete_units` UTF-16 units at `index`, then insert `insert` there.
// Edits in a list are in ascending order of index and apply one after the
// other (each index is in the text as the earlier edits left it).
struct TextEdit {
  uint64_t index = 0;
  uint64_t delete_units = 0;
  std::string insert;
};

// Edits that turn `from` into `to`: common prefix and suffix kept (never
// splitting a character), the middle diffed by lines and then by characters
// so that an edit in one place of a long note is an edit in that place only.
// Applying them to `from` gives exactly `to` (CRLF included). The work is
// bounded: past a budget, regions fall back to coarser edits (a rewritten
// region becomes one replacement), so a 5 MB note diffs in well under 100 ms.
std::vector<TextEdit> DiffText(std::string_view from, std::string_view to);

// Three-way merge. `base` is the text both sides started from, `ours` the
// text on disk, `theirs` the document's text. Returns the edits to apply to
// `theirs` so that it also holds every change from base to ours. Changes only
// ours made are applied where their base region now is in theirs. Where both
// changed overlapping base regions (or inserted at one place), theirs'
// version of the region is kept and ours' version is inserted right after it
// (unless theirs' already contains it), so ours' deletions there are dropped
// and nothing of either side is lost. Deterministic; ours == theirs gives no
// edits, base == ours gives no edits, base == theirs gives DiffText(theirs,
// ours).
std::vector<TextEdit> MergeIntoTheirs(std::string_view base, std::string_view ours,
                                      std::string_view theirs);

// Applies edits (UTF-16 positions) to a UTF-8 text; for tests and for
// computing what the document will hold. Positions past the end clamp to it.
std::string ApplyEdits(std::string_view text, const std::vector<TextEdit>& edits);

}  // namespace vaultd::daemon
