#pragma once
// CAF's deterministic test DSL under Catch2 (CAF-0.17.md §6): CAF's check
// macros are rerouted to Catch2 before dsl.hpp is included. Include this
// instead of <catch2/catch.hpp> in every CAF actor test.
#include <catch2/catch.hpp>

#include "caf/test/unit_test.hpp"
#undef CAF_MESSAGE
#undef CAF_FAIL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_CHECK_EQUAL
#define CAF_MESSAGE(msg) INFO(msg)
#define CAF_FAIL(msg) FAIL(msg)
#define CAF_REQUIRE(...) REQUIRE((__VA_ARGS__))
#define CAF_REQUIRE_EQUAL(x, y) REQUIRE((x) == (y))
#define CAF_CHECK_EQUAL(x, y) CHECK((x) == (y))
#include "caf/test/dsl.hpp"  // unit_test.hpp is #pragma once: the overrides stick
