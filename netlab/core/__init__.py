"""What every part of netlab shares: typed data helpers with no knowledge of any feature or of the kernel."""
