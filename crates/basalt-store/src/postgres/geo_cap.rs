//! Spherical caps around latitude/longitude boxes. `$within.$box` and `$geoWithin.$polygon`
//! are planar tests on latitude and longitude, which no geography index answers directly; a cap
//! that holds the whole box is a distance test the GiST index of a GeoPoint field does answer,
//! so it can run first and let the exact planar test look only at the few rows it keeps.

use basalt_core::value::GeoPoint;

/// A box in degrees, its edges included. `west > east` means the box crosses the
/// antimeridian, as `$box` reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatLngBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl LatLngBox {
    /// The bounding box of a polygon's vertices (planar, so it never crosses the antimeridian).
    pub(crate) fn around(points: &[GeoPoint]) -> Option<Self> {
        let first = points.first()?;
        let mut b = LatLngBox {
            south: first.latitude,
            west: first.longitude,
            north: first.latitude,
            east: first.longitude,
        };
        for p in &points[1..] {
            b.south = b.south.min(p.latitude);
            b.north = b.north.max(p.latitude);
            b.west = b.west.min(p.longitude);
            b.east = b.east.max(p.longitude);
        }
        Some(b)
    }

    /// A centre and a radius in radians such that every point of the box lies within the
    /// radius of the centre; `None` when no cap smaller than the whole sphere is sure to.
    ///
    /// The radius bounds the haversine of the distance term by term: half the box's latitude
    /// span at most, half its longitude span at most, and the largest cosine of a latitude in
    /// the box. Each bound holds on its own, so their sum bounds the distance to any point.
    pub(crate) fn cap(&self) -> Option<(GeoPoint, f64)> {
        if self.south > self.north {
            return None;
        }
        let (south, north) = (self.south.max(-90.0), self.north.min(90.0));
        let lng_span = if self.west <= self.east {
            self.east - self.west
        } else {
            self.east - self.west + 360.0
        };
        if lng_span >= 360.0 {
            return None;
        }
        let center = GeoPoint {
            latitude: (south + north) / 2.0,
            longitude: wrap_longitude(self.west + lng_span / 2.0),
        };
        let widest_cos = if south <= 0.0 && north >= 0.0 {
            1.0
        } else {
            south.to_radians().cos().max(north.to_radians().cos())
        };
        let half_lat = ((north - south) / 2.0).to_radians();
        let half_lng = (lng_span / 2.0).to_radians();
        let h = (half_lat / 2.0).sin().powi(2)
            + center.latitude.to_radians().cos() * widest_cos * (half_lng / 2.0).sin().powi(2);
        // Close to the whole sphere a cap no longer narrows anything down.
        if h >= 0.99 {
            return None;
        }
        Some((center, 2.0 * h.sqrt().asin()))
    }
}

fn wrap_longitude(lng: f64) -> f64 {
    if lng > 180.0 { lng - 360.0 } else { lng }
}

#[cfg(test)]
mod tests {
    use basalt_core::query::distance_radians;

    use super::*;

    /// Every point of a fine grid over the box (edges and corners included) lies in its cap.
    fn assert_covers(b: LatLngBox) {
        let (center, radius) = b.cap().unwrap_or_else(|| panic!("no cap for {b:?}"));
        let span = if b.west <= b.east {
            b.east - b.west
        } else {
            b.east - b.west + 360.0
        };
        let steps = 60;
        for i in 0..=steps {
            for j in 0..=steps {
                let p = GeoPoint {
                    latitude: b.south + (b.north - b.south) * i as f64 / steps as f64,
                    longitude: wrap_longitude(b.west + span * j as f64 / steps as f64),
                };
                let d = distance_radians(p, center);
                assert!(
                    d <= radius * (1.0 + 1e-12),
                    "{b:?}: {p:?} at {d} > {radius}"
                );
            }
        }
    }

    #[test]
    fn caps_hold_their_whole_box() {
        for b in [
            (1.0, 2.0, 1.5, 2.5),
            (-0.3, -0.3, 0.4, 0.1),
            (59.0, -10.0, 61.0, 30.0),
            (-80.0, 100.0, -60.0, 170.0),
            (70.0, 170.0, 89.0, -170.0),
            (-10.0, 179.5, 10.0, -179.5),
            (0.0, 0.0, 0.0, 0.0),
            (-45.0, -60.0, 45.0, 60.0),
        ] {
            assert_covers(LatLngBox {
                south: b.0,
                west: b.1,
                north: b.2,
                east: b.3,
            });
        }
    }

    #[test]
    fn small_boxes_get_tight_caps_and_the_world_gets_none() {
        let small = LatLngBox {
            south: 1.0,
            west: 1.0,
            north: 1.1,
            east: 1.1,
        };
        let (_, r) = small.cap().unwrap();
        // The half diagonal is about 0.0707 degrees; the bound may add little to it.
        assert!(r < 0.08_f64.to_radians(), "{r}");
        let world = LatLngBox {
            south: -90.0,
            west: -180.0,
            north: 90.0,
            east: 180.0,
        };
        assert!(world.cap().is_none());
        let inverted = LatLngBox {
            north: 0.0,
            ..small
        };
        assert!(inverted.cap().is_none());
    }

    #[test]
    fn a_polygon_box_holds_each_vertex() {
        let pts = [(0.5, 0.1), (2.0, 0.8), (1.0, -0.4)].map(|(latitude, longitude)| GeoPoint {
            latitude,
            longitude,
        });
        let b = LatLngBox::around(&pts).unwrap();
        assert_eq!((b.south, b.west, b.north, b.east), (0.5, -0.4, 2.0, 0.8));
        assert!(LatLngBox::around(&[]).is_none());
    }
}
