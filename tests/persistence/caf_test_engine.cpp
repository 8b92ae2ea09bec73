// CAF's test engine for the persistence actor tests (engine::argc()/argv()
// are used by the deterministic fixture); Catch2's main lives in
// tests/test_main.cpp. One per test binary: tests/actors has its own.
#include "tests/actors/caf_test_bridge.hpp"
#define CAF_TEST_NO_MAIN
#include "caf/test/unit_test_impl.hpp"
