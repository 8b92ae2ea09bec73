#include "http/auth_validation.hpp"

namespace tally {

namespace {

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ascii_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || is_ascii_digit(c);
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// RFC 5322 §3.2.3 atext, after lower-casing (so no upper-case letters).
bool is_atext(char c) {
  if (is_ascii_lower_alnum(c)) return true;
  constexpr std::string_view specials = "!#$%&'*+/=?^_`{|}~-";
  return specials.find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  size_t first = 0;
  while (first < text.size() && is_ascii_space(text[first])) ++first;
  size_t last = text.size();
  while (last > first && is_ascii_space(text[last - 1])) --last;
  return text.substr(first, last - first);
}

bool is_valid_local_part(std::string_view local) {
  if (local.empty() || local.size() > email_local_part_chars_max) return false;
  if (local.front() == '.' || local.back() == '.') return false;
  if (local.find("..") != std::string_view::npos) return false;
  for (char c : local)
    if (c != '.' && !is_atext(c)) return false;
  return true;
}

bool is_valid_domain(std::string_view domain) {
  size_t labels = 0;
  bool last_label_has_letter = false;
  size_t start = 0;
  while (true) {
    auto dot = domain.find('.', start);
    auto label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos
                                                                     : dot - start);
    if (label.empty() || label.size() > email_domain_label_chars_max) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_label_has_letter = false;
    for (char c : label) {
      if (c != '-' && !is_ascii_lower_alnum(c)) return false;
      if (c >= 'a' && c <= 'z') last_label_has_letter = true;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // RFC 3696 §2: a top-level domain is never all-numeric (so no IPv4
  // address passes as a domain).
  return labels >= 2 && last_label_has_letter;
}

} // namespace

std::optional<std::string> normalise_email(std::string_view text) {
  auto trimmed = trim(text);
  if (trimmed.empty() || trimmed.size() > email_chars_max) return std::nullopt;
  std::string email(trimmed);
  for (auto& c : email)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  auto at = email.find('@');
  if (at == std::string::npos || email.find('@', at + 1) != std::string::npos) return std::nullopt;
  std::string_view view(email);
  if (!is_valid_local_part(view.substr(0, at)) || !is_valid_domain(view.substr(at + 1)))
    return std::nullopt;
  return email;
}

bool is_e164_phone(std::string_view text) {
  if (text.size() < 1 + phone_digits_min || text.size() > 1 + phone_digits_max) return false;
  if (text.front() != '+' || text[1] == '0') return false;
  for (size_t i = 1; i < text.size(); ++i)
    if (!is_ascii_digit(text[i])) return false;
  return true;
}

bool is_login_code(std::string_view text) {
  if (text.size() != login_code_digits) return false;
  for (char c : text)
    if (!is_ascii_digit(c)) return false;
  return true;
}

} // namespace tally
