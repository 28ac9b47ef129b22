"""What makes sound on the instrument itself: the PWM tone for a small speaker."""
