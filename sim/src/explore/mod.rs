//! Many runs.

mod chaos;
mod env;
mod fuzzing;
mod shrink;
mod sweep;
mod testing;

pub use chaos::*;
pub use env::*;
pub use fuzzing::*;
pub use shrink::*;
pub use sweep::*;
pub use testing::*;
