//! Issue 5/5 (in progress).
