// The user actor's tenants (GET /v1/auth/me): loaded from the store once
// per activation, on the first /me, and kept current from then on by the
// notices tenant actors send after committing a membership. So /me costs
// no store read per request, and a membership committed before the load
// is in the load, one committed after it arrives as a notice.
#include <utility>

#include "caf/all.hpp"

#include "actors/user_sessions.hpp"

namespace tally::user_detail {

namespace {

void remember(std::vector<membership_view>& list, const membership_view& membership) {
  for (auto& known : list)
    if (known.tenant == membership.tenant) {
      known = membership;
      return;
    }
  list.push_back(membership);
}

} // namespace

void answer_me(user_pointer self, me_reply done) {
  auto& st = self->state;
  if (st.memberships) {
    done(me_view{st.profile.view(), *st.memberships});
    return;
  }
  // await: a notice arriving meanwhile waits, and then finds the list.
  self->request(st.reader, caf::infinite, find_memberships_atom_v, st.id)
    .await(
      [self, done](membership_list& found) {
        auto& st = self->state;
        if (!st.memberships)
          st.memberships = std::make_unique<std::vector<membership_view>>(std::move(found.tenants));
        done(me_view{st.profile.view(), *st.memberships});
      },
      [done](caf::error&) {
        done(failure{error_code::store_unavailable, "the store is unavailable; retry",
                     user_retry_after_s});
      });
}

void note_membership(user_pointer self, const membership_view& membership) {
  auto& st = self->state;
  // Not loaded: the load will read it from the store (committed before the notice).
  if (st.memberships) remember(*st.memberships, membership);
}

} // namespace tally::user_detail
