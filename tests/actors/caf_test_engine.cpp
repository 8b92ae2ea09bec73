// The one translation unit with CAF's test engine (engine::argc()/argv() are
// used by the deterministic fixture); Catch2's main lives in tests/test_main.cpp.
#include "tests/actors/caf_test_bridge.hpp"
#define CAF_TEST_NO_MAIN
#include "caf/test/unit_test_impl.hpp"
