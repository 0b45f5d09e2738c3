//! The pages' static files, compiled into the binary: the vendored htmx and Simple.css (see
//! `web/vendor/README.md` for versions and licences) and tomoni's own stylesheet and script (small enhancements only: every page works without it). Nothing is
//! fetched from elsewhere.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/assets/htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/vendor/htmx-2.0.11/htmx.min.js"),
    },
    Asset {
        path: "/assets/simple.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/vendor/simpledotcss-2.3.7/simple.min.css"),
    },
    Asset {
        path: "/assets/tomoni.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/static/tomoni.css"),
    },
    Asset {
        path: "/assets/tomoni.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/static/tomoni.js"),
    },
    Asset {
        path: "/assets/favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../web/static/favicon.svg"),
    },
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        cfg.route(
            asset.path,
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type(asset.content_type)
                    // A day: a new release's files reach browsers by the next morning.
                    .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
                    .body(asset.body)
            }),
        );
    }
}
