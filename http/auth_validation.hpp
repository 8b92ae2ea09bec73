#pragma once
// What /v1/auth/* accepts as an email, a phone number and a login code
// (API.md "Auth"), checked before the gateway is called (a bad value is 422).
//
// Email: trimmed of ASCII whitespace and lower-cased, then it must be
//   - at most 254 characters in total (RFC 5321 path limit minus the <>);
//   - exactly one '@';
//   - local part: 1..64 characters of RFC 5322 "atext" (a-z 0-9 and
//     !#$%&'*+/=?^_`{|}~-) and '.', not starting or ending with '.', no "..";
//     quoted local parts are refused (nobody logs in with them, and their
//     escapes would make one mailbox have many spellings);
//   - domain: labels of 1..63 characters [a-z0-9-], not starting or ending
//     with '-', separated by single dots, at least two labels, the last
//     one holding a letter (RFC 3696 §2: no all-numeric TLD). No IP
//     literals, no trailing dot, no internationalised text (punycode
//     "xn--" labels are fine): a login email must be deliverable by the
//     mailer that polls the outbox, and must have one spelling per mailbox.
// So no spaces, no control characters and no non-ASCII bytes anywhere.
//
// Phone: E.164 exactly as sent (no trimming, no separators): '+' then 8..15
// digits, the first not 0 (country codes never start with 0).
//
// Code: exactly 6 ASCII digits.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// RFC 5321 §4.5.3.1: a path holds at most 256 octets including "<" and ">".
inline constexpr size_t email_chars_max = 254;
/// RFC 5321 §4.5.3.1.1.
inline constexpr size_t email_local_part_chars_max = 64;
/// RFC 1035 §2.3.4.
inline constexpr size_t email_domain_label_chars_max = 63;
/// E.164: at most 15 digits; 8 is the shortest full number Tally accepts
/// (API.md).
inline constexpr size_t phone_digits_min = 8;
inline constexpr size_t phone_digits_max = 15;
/// API.md: login codes have 6 digits.
inline constexpr size_t login_code_digits = 6;

/// The normalised email (trimmed, lower-cased) when it is valid as the file
/// comment describes, else nullopt.
std::optional<std::string> normalise_email(std::string_view text);

/// Whether `text` is an E.164 phone number as the file comment describes.
bool is_e164_phone(std::string_view text);

/// Whether `text` is exactly login_code_digits ASCII digits.
bool is_login_code(std::string_view text);

} // namespace tally
