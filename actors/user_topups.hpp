#pragma once
// Internal to the user actor: payment top-ups (user_topups.cpp), at most
// once per payment object (protocols/webhook.hpp says why the user owns it).
#include "actors/user_sessions.hpp"

namespace tally::user_detail {

/// Tops up `cmd.credits` unless the object was paid before (in the store,
/// or by a top-up of this actor still waiting for its commit). Answers
/// after the commit whatever the ack mode: the webhook says `processed`
/// only for a committed top-up.
void topup(user_pointer self, topup_request& cmd, topup_reply done);

} // namespace tally::user_detail
