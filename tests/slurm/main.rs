//! Integration tests of `engine run --executor slurm` against a real Slurm cluster: the
//! one-node cluster of `scripts/slurm-dev-cluster.sh up` (which `.ci/run` brings up). When
//! no cluster answers, every test here fails and says how to start one.

mod cluster;
mod errors;
mod jobs;
mod stopping;
