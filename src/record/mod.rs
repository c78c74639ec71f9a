//! The run record: a durable journal of every run in the state dir, and the up-to-date
//! checks that read it.
