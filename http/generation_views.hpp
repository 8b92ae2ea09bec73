#pragma once
// How generations look on the wire (API.md "Generations"): the bodies,
// the list cursor, and the params of a create checked against the catalog.
// Pure functions, unit-tested in tests/http/generation_views_test.cpp.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/problem.hpp"
#include "protocols/generations.hpp"

namespace tally {

std::string render_models(const generation_catalog& catalog);
std::string render_generation_created(const generation_created& created);
std::string render_generation(const generation_row& row);
std::string render_generation_page(const generation_page& page);

/// The list cursor: base64url of "<created_at>:<id>" of the last row shown.
std::string encode_generation_cursor(timestamp_us created_at, const uuid& id);
bool decode_generation_cursor(std::string_view cursor, generation_query& query);

/// Checks `params` (absent = null) against the model: every field must be
/// one of the model's integer parameters within bounds. Adds one error per
/// bad field to `errors` ("params.<name>"); on success returns the canonical
/// JSON text with every default filled in.
std::optional<std::string> canonical_params(const model_info& model, const nlohmann::json* params,
                                            std::vector<field_error>& errors);

} // namespace tally
