//! The migrations are compiled into the binary (`db::POSTGRES_MIGRATIONS` and
//! `db::SQLITE_MIGRATIONS`), but a migration directory added since the last build is not a file
//! the compiler read, so cargo would not rebuild and the binary would lack it. Watching the
//! folders makes a new migration rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
