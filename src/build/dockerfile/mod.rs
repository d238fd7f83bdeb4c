//! Dockerfiles: the syntax tree, the parser and docker's variable substitution.

pub mod ast;
pub mod expand;
mod parse;

pub use ast::*;
pub use parse::parse;
