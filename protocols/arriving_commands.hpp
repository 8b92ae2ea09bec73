#pragma once
// The door for commands that arrived from another node (http/
// internal_server.cpp calls it; actors/ implements it). Such a command has
// had its one hop: it is served here, or refused with not_shard_owner
// (the sender answers 421 by refreshing its map and retrying once), and
// never forwarded again.
#include "protocols/commands.hpp"

namespace tally {

class arriving_commands {
public:
  virtual ~arriving_commands() = default;

  /// Routes `message` to its entity on this node; `done` completes exactly
  /// once, on a CAF worker (not_shard_owner when this node does not serve
  /// the key's shard, shutting_down while the node stops).
  virtual void serve(envelope message, completion done) = 0;
};

} // namespace tally
