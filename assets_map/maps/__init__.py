"""What the browser is sent: the small map and the national map's aggregated layers."""
