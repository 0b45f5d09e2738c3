//! Who is calling, and what they may do: passwords, tokens, the `Caller` extractor, sign-in.

pub mod caller;
pub mod idp;
pub mod links;
pub mod password;
pub mod ratelimit;
pub mod refresh;
pub mod roles;
pub mod secret;
pub mod signin;
pub mod tokens;

pub use caller::Caller;
pub use roles::Role;
