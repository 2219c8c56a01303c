//! Faults, crashes and hostile answers across every network, with the delivery invariant checked after each scenario.
