#pragma once
// The table of entity kinds: for each entity_kind (protocols/commands.hpp,
// where the kind's command variant is entity_command's alternative), the
// behaviour the registry spawns for a key of that kind and the label its
// gauge carries. A new kind is its actor file, its commands, its records and
// one line here; the registry, the lifecycle and routing need no edit.
#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>

#include "actors/entity_table.hpp"
#include "actors/identity.hpp"
#include "actors/subdomain.hpp"
#include "actors/tenant.hpp"
#include "actors/user.hpp"
#include "actors/webhook_event.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// What the registry needs to know of one kind.
template <entity_kind Kind>
struct kind_traits;

/// Declares a kind: its entity_kind enumerator and its behaviour function.
#define TALLY_ENTITY_KIND(kind_name, behavior_function)                        \
  template <>                                                                \
  struct kind_traits<entity_kind::kind_name> {                               \
    static constexpr std::string_view label = #kind_name;                    \
    static constexpr auto behavior = &behavior_function;                     \
  };

TALLY_ENTITY_KIND(user, user_behavior)
TALLY_ENTITY_KIND(identity, identity_behavior)
TALLY_ENTITY_KIND(tenant, tenant_behavior)
TALLY_ENTITY_KIND(subdomain, subdomain_behavior)
TALLY_ENTITY_KIND(webhook_event, webhook_event_behavior)

#undef TALLY_ENTITY_KIND

/// How many kinds there are.
constexpr size_t entity_kind_count = std::variant_size_v<entity_command>;

template <size_t Kind>
using table_of_kind = entity_table<entity_actor>;

template <size_t... Kinds>
std::tuple<table_of_kind<Kinds>...> make_entity_tables(std::index_sequence<Kinds...>);

/// One entity table per kind, indexed by entity_kind.
using entity_tables =
  decltype(make_entity_tables(std::make_index_sequence<entity_kind_count>{}));

template <size_t... Kinds>
constexpr std::array<std::string_view, sizeof...(Kinds)> labels_of(std::index_sequence<Kinds...>) {
  return {kind_traits<static_cast<entity_kind>(Kinds)>::label...};
}

/// Each kind's label, indexed by entity_kind (tally_active_actors{kind}).
constexpr auto entity_kind_labels = labels_of(std::make_index_sequence<entity_kind_count>{});

} // namespace tally
