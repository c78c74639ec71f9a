//! Tests of templates across their parts: parsing and quoting contexts, rendering into real
//! shells and a real rhai engine, evaluation, and results files.

use super::*;

mod results;
