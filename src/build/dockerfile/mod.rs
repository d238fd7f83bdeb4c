//! Dockerfiles: the syntax tree, the parser and docker's variable substitution. Nothing here
//! uses the rest of cove, so a fuzz target can include it on its own.

mod args;
pub mod ast;
pub mod expand;
mod parse;

pub use ast::*;
pub use parse::parse;
