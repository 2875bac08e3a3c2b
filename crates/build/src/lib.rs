//! `hull build`: Dockerfiles into images, daemonless (issue 16).
//!
//! The pieces, bottom up: the Dockerfile parser (`dockerfile`), Docker's `.dockerignore` rules
//! and the build context (`context`); later the content-addressed step cache and the stage
//! scheduler, which run steps through the engine and store layers through the image store.

pub mod context;
pub mod dest;
pub mod dockerfile;
pub mod exec;
mod glob;
pub mod ignore;
