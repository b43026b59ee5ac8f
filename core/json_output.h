// JSON Lines encodings of burnrate's outputs (closed windows, dead letters).
// Written by hand rather than through a DOM: these run once per output row on
// busy paths, and the escaping rules are the whole difficulty.
#pragma once

#include <string>
#include <string_view>

#include "core/decode.h"
#include "core/window.h"

namespace burnrate {

// Appends `s` as a JSON string literal. Control characters and quotes are
// escaped; bytes that are not valid UTF-8 become U+FFFD, so the output is
// always valid JSON whatever an event carried.
void AppendJsonString(std::string_view s, std::string& out);

// Appends a USD amount with 12 decimals (exact: Money is in picodollars).
void AppendUsd(Money amount, std::string& out);

// One closed-window row, as documented in docs/outputs.md, without a newline.
void AppendWindowRecordJson(const WindowRecord& record, std::string& out);

// One dead letter: reason, detail, item index and the original message (as
// a string when it is UTF-8, else base64 under message_base64).
void AppendDeadLetterJson(std::string_view message, const Rejection& rejection, std::string& out);

bool IsValidUtf8(std::string_view s);

}  // namespace burnrate
