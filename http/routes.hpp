#pragma once
// The route table of the API, in one place.
#include "http/router.hpp"

namespace tally {

router make_api_router();

} // namespace tally
