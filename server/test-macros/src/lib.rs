//! `#[both_backends]`: one integration test of the server, run once on SQLite and once on
//! PostgreSQL, each on a fresh database.
//!
//! ```ignore
//! #[both_backends]
//! async fn a_grid_worker_cannot_read_another_grids_records(app: TestApp) {
//!     // …
//! }
//! ```
//!
//! becomes a module of that name holding the body as `run` and two tests, `sqlite` and
//! `postgres`, each spawning the application (`crate::helpers::TestApp::spawn`) on its backend.
//! An attribute rather than a function-like macro, so that rustfmt formats test bodies like the
//! rest of the code.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

/// Runs an `async fn name(app: TestApp)` test on both backends (see the crate documentation).
#[proc_macro_attribute]
pub fn both_backends(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[both_backends] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let test = parse_macro_input!(item as ItemFn);
    if test.sig.asyncness.is_none() || test.sig.inputs.len() != 1 {
        return syn::Error::new_spanned(
            &test.sig,
            "#[both_backends] needs an `async fn name(app: TestApp)`",
        )
        .to_compile_error()
        .into();
    }
    let name = &test.sig.ident;
    let attrs = &test.attrs;
    let inputs = &test.sig.inputs;
    let body = &test.block;
    quote! {
        #(#attrs)*
        mod #name {
            #[allow(unused_imports)]
            use super::*;

            async fn run(#inputs) #body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(crate::helpers::TestApp::spawn(crate::helpers::Backend::Postgres).await).await
            }
        }
    }
    .into()
}
