//! Coordinate reference systems: WGS-84 (what GPS reports, what the server stores) and GCJ-02
//! (the obfuscated datum every web map in China draws in).
//!
//! GCJ-02 is WGS-84 plus a deterministic, non-linear offset of a few hundred metres (about 580 m at
//! Siping). The forward transform is the widely published one (Krasovsky ellipsoid, the same
//! polynomial noise terms every open implementation uses). There is no closed-form inverse, so
//! [`gcj02_to_wgs84`] iterates the forward transform until the round trip agrees to 1e-9 degrees
//! (well under a millimetre). Outside China's bounding box both directions are the identity, as in
//! every reference implementation.
//!
//! Written here rather than taken from a crate: the transform is twenty lines of published
//! arithmetic, and the crates that carry it bring projections and C libraries the server does
//! not need; the round-trip tests pin it.

use serde::{Deserialize, Serialize};

/// Semi-major axis of the Krasovsky 1940 ellipsoid, which GCJ-02 is defined on.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The coordinate reference system of a request's or a response's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84 longitude/latitude (EPSG:4326 axis order lon, lat as in GeoJSON).
    #[default]
    Wgs84,
    /// GCJ-02, the datum of Chinese web maps.
    Gcj02,
}

impl Crs {
    /// Converts a `(lon, lat)` in this CRS to WGS-84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
        }
    }

    /// Converts a WGS-84 `(lon, lat)` to this CRS.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => wgs84_to_gcj02(lon, lat),
        }
    }
}

/// Whether the GCJ-02 offset applies at this point (a coarse box around China, as the reference
/// implementations use).
pub fn is_in_china(lon: f64, lat: f64) -> bool {
    (72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// The GCJ-02 offset `(dlon, dlat)` in degrees at a WGS-84 point.
fn gcj02_offset(lon: f64, lat: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlon, dlat)
}

/// WGS-84 → GCJ-02 (the forward, published transform).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !is_in_china(lon, lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = gcj02_offset(lon, lat);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS-84 by fixed-point iteration on the forward transform.
///
/// The offset varies slowly (its derivative is tiny), so each step gains several digits; the loop
/// stops at 1e-9 degrees or after 30 steps, whichever comes first.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !is_in_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (elon, elat) = (glon - lon, glat - lat);
        wlon -= elon;
        wlat -= elat;
        if elon.abs() < 1e-9 && elat.abs() < 1e-9 {
            break;
        }
    }
    (wlon, wlat)
}

/// Great-circle distance in metres (haversine on a 6,371 km sphere); good enough for tests and logs.
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPING: (f64, f64) = (124.35, 43.17);

    #[test]
    fn the_gcj02_shift_at_siping_is_a_few_hundred_metres() {
        let gcj = wgs84_to_gcj02(SIPING.0, SIPING.1);
        let shift = haversine_m(SIPING, gcj);
        assert!((500.0..700.0).contains(&shift), "shift was {shift} m");
    }

    #[test]
    fn the_forward_transform_matches_a_published_reference_point() {
        // Tiananmen, WGS-84 (116.391305, 39.907177) is drawn at about (116.397540, 39.908580) on
        // GCJ-02 web maps; the reference implementations agree to the sixth decimal.
        let (lon, lat) = wgs84_to_gcj02(116.391305, 39.907177);
        assert!((lon - 116.39754).abs() < 2e-5, "lon {lon}");
        assert!((lat - 39.90858).abs() < 2e-5, "lat {lat}");
    }

    #[test]
    fn the_inverse_round_trips_to_under_a_millimetre_across_china() {
        for lon in (74..135).step_by(3) {
            for lat in (18..53).step_by(3) {
                let (lon, lat) = (lon as f64 + 0.123, lat as f64 + 0.456);
                let (glon, glat) = wgs84_to_gcj02(lon, lat);
                let (wlon, wlat) = gcj02_to_wgs84(glon, glat);
                assert!(
                    haversine_m((lon, lat), (wlon, wlat)) < 1e-3,
                    "at {lon},{lat}"
                );
            }
        }
    }

    #[test]
    fn points_outside_china_are_not_shifted() {
        assert_eq!(wgs84_to_gcj02(-73.98, 40.75), (-73.98, 40.75));
        assert_eq!(gcj02_to_wgs84(2.35, 48.85), (2.35, 48.85));
    }

    #[test]
    fn crs_conversions_are_identity_for_wgs84() {
        assert_eq!(Crs::Wgs84.to_wgs84(1.0, 2.0), (1.0, 2.0));
        let (lon, lat) = Crs::Gcj02.from_wgs84(SIPING.0, SIPING.1);
        let back = Crs::Gcj02.to_wgs84(lon, lat);
        assert!(haversine_m(back, SIPING) < 1e-3);
    }
}
