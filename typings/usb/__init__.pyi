# micropython-lib `usb` namespace (on the Pico: `mpremote mip install usb-device-midi`).
