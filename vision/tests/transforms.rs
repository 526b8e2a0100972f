//! Transforms against hand-computed expectations (each test says where its
//! numbers come from), and the seeding contract.

use torchlet_tensor::{Generator, Tensor};
use torchlet_vision::transforms::functional::{self, Interpolation};
use torchlet_vision::transforms::{
    sample_generator, CenterCrop, Compose, Lambda, Normalize, RandomAffine, RandomCrop,
    RandomHorizontalFlip, RandomRotation, RandomVerticalFlip, Resize, ToTensor, Transform,
};

fn img(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

fn vals(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

fn rng() -> Generator {
    Generator::new(0)
}

#[test]
fn flips_of_a_2x3_image() {
    // [[1, 2, 3], [4, 5, 6]] mirrored by hand.
    let x = img(&[1., 2., 3., 4., 5., 6.], &[1, 2, 3]);
    let h = RandomHorizontalFlip::new(1.0)
        .apply(x.clone(), &mut rng())
        .unwrap();
    assert_eq!(h.shape(), [1, 2, 3]);
    assert_eq!(vals(&h), [3., 2., 1., 6., 5., 4.]);
    let v = RandomVerticalFlip::new(1.0)
        .apply(x.clone(), &mut rng())
        .unwrap();
    assert_eq!(vals(&v), [4., 5., 6., 1., 2., 3.]);
    let none = RandomHorizontalFlip::new(0.0)
        .apply(x.clone(), &mut rng())
        .unwrap();
    assert_eq!(vals(&none), vals(&x));
    // p = 0.5 flips about half the time.
    let flips = (0..1000)
        .filter(|&i| {
            let y = RandomHorizontalFlip::default()
                .apply(x.clone(), &mut sample_generator(1, 0, i))
                .unwrap();
            vals(&y)[0] == 3.0
        })
        .count();
    assert!((400..600).contains(&flips), "{flips} flips of 1000");
    // A batch [N, C, H, W] flips every plane.
    let b = functional::hflip(&img(&[1., 2., 3., 4.], &[2, 1, 1, 2])).unwrap();
    assert_eq!(vals(&b), [2., 1., 4., 3.]);
}

#[test]
fn random_crop_with_padding_gives_one_of_the_nine_windows() {
    // [[1, 2], [3, 4]] padded by 1 with zeros is the 4x4 image
    //   0 0 0 0 / 0 1 2 0 / 0 3 4 0 / 0 0 0 0,
    // whose 2x2 windows at (i, j) in 0..=2 are listed here by hand.
    let windows: [[f32; 4]; 9] = [
        [0., 0., 0., 1.],
        [0., 0., 1., 2.],
        [0., 0., 2., 0.],
        [0., 1., 0., 3.],
        [1., 2., 3., 4.],
        [2., 0., 4., 0.],
        [0., 3., 0., 0.],
        [3., 4., 0., 0.],
        [4., 0., 0., 0.],
    ];
    let x = img(&[1., 2., 3., 4.], &[1, 2, 2]);
    let crop = RandomCrop::new(2).unwrap().padding(1);
    let mut seen = [false; 9];
    for i in 0..200 {
        let y = crop
            .apply(x.clone(), &mut sample_generator(3, 0, i))
            .unwrap();
        assert_eq!(y.shape(), [1, 2, 2]);
        let k = windows
            .iter()
            .position(|w| w[..] == vals(&y)[..])
            .unwrap_or_else(|| panic!("unexpected window {:?}", vals(&y)));
        seen[k] = true;
    }
    assert!(seen.iter().all(|&s| s), "not all windows drawn: {seen:?}");

    // A crop as large as the image is the image.
    let same = RandomCrop::new(2)
        .unwrap()
        .apply(x.clone(), &mut rng())
        .unwrap();
    assert_eq!(vals(&same), [1., 2., 3., 4.]);
    // Too large without padding fails, naming the sizes.
    let err = RandomCrop::new(3)
        .unwrap()
        .apply(x.clone(), &mut rng())
        .unwrap_err();
    assert!(err.to_string().contains("3x3 is larger"), "{err}");
    // pad_if_needed pads by the missing amount on both sides: a 1x1 image
    // [5] cropped to 2x2 is padded to 3x3 with the fill value 9.
    let y = RandomCrop::new(2)
        .unwrap()
        .pad_if_needed(true)
        .fill(9.0)
        .apply(img(&[5.], &[1, 1, 1]), &mut rng())
        .unwrap();
    let v = vals(&y);
    assert_eq!(v.iter().filter(|&&p| p == 5.0).count(), 1);
    assert_eq!(v.iter().filter(|&&p| p == 9.0).count(), 3);
}

#[test]
fn crop_functional_pads_out_of_bounds() {
    let x = img(&[1., 2., 3., 4.], &[1, 2, 2]);
    let y = functional::crop(&x, -1, 1, 2, 2, 0.0).unwrap();
    assert_eq!(vals(&y), [0., 0., 2., 0.]);
}

#[test]
fn center_crop_rounds_half_to_even_and_pads() {
    // 4x4 arange: the centre 2x2 starts at round((4 - 2) / 2) = 1.
    let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let y = CenterCrop::new(2)
        .unwrap()
        .apply(img(&x, &[1, 4, 4]), &mut rng())
        .unwrap();
    assert_eq!(vals(&y), [5., 6., 9., 10.]);
    // 3x3: round(0.5) = 0 in Python (half to even), so the top-left 2x2.
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let y = CenterCrop::new(2)
        .unwrap()
        .apply(img(&x, &[1, 3, 3]), &mut rng())
        .unwrap();
    assert_eq!(vals(&y), [0., 1., 3., 4.]);
    // Larger than the image: zero padding around it.
    let y = CenterCrop::new(3)
        .unwrap()
        .apply(img(&[7.], &[1, 1, 1]), &mut rng())
        .unwrap();
    assert_eq!(vals(&y), [0., 0., 0., 0., 7., 0., 0., 0., 0.]);
    let y = CenterCrop::rect(1, 3)
        .unwrap()
        .apply(img(&[1., 2., 3., 4.], &[1, 2, 2]), &mut rng())
        .unwrap();
    // rows: round(0.5) = 0 -> row 0; cols: pad (3 - 2) / 2 = 0 left.
    assert_eq!(vals(&y), [1., 2., 0.]);
}

#[test]
fn normalize_per_channel() {
    // (0.5 - 0.5) / 0.5 = 0, (0.2 - 0.1) / 0.1 = 1, (1 - 0.5) / 0.5 = 1, (0 - 0.1) / 0.1 = -1.
    let x = img(&[0.5, 1.0, 0.2, 0.0], &[2, 1, 2]);
    let n = Normalize::new(vec![0.5, 0.1], vec![0.5, 0.1]).unwrap();
    assert_close(
        &vals(&n.apply(x.clone(), &mut rng()).unwrap()),
        &[0., 1., 1., -1.],
        1e-6,
    );
    // MNIST's constants on black and white pixels.
    let m = Normalize::new(vec![0.1307], vec![0.3081]).unwrap();
    let y = m.apply(img(&[0.0, 1.0], &[1, 1, 2]), &mut rng()).unwrap();
    assert_close(&vals(&y), &[-0.1307 / 0.3081, 0.8693 / 0.3081], 1e-6);
    // Errors: zero std, channel mismatch, no channel dim.
    assert!(Normalize::new(vec![0.0], vec![0.0]).is_err());
    let three = Normalize::new(vec![0.; 3], vec![1.; 3]).unwrap();
    let err = three.apply(x.clone(), &mut rng()).unwrap_err().to_string();
    assert!(
        err.contains("3 values") && err.contains("2 channels"),
        "{err}"
    );
    assert!(m.apply(img(&[0.0, 1.0], &[1, 2]), &mut rng()).is_err());
}

#[test]
fn to_tensor_scales_bytes_and_moves_channels_first() {
    // HWC [[[0, 255], [51, 102]]] (1x2 pixels, 2 channels) -> CHW / 255.
    let x = Tensor::from_vec(vec![0i64, 255, 51, 102], &[1, 2, 2]).unwrap();
    let y = ToTensor.apply(x, &mut rng()).unwrap();
    assert_eq!(y.shape(), [2, 1, 2]);
    assert_close(&vals(&y), &[0.0, 0.2, 1.0, 0.4], 1e-7);
    let gray = ToTensor
        .apply(
            Tensor::from_vec(vec![255i64, 0], &[1, 2]).unwrap(),
            &mut rng(),
        )
        .unwrap();
    assert_eq!(
        (gray.shape(), vals(&gray)),
        (&[1, 1, 2][..], vec![1.0, 0.0])
    );
    let err = ToTensor
        .apply(Tensor::from_vec(vec![256i64], &[1, 1]).unwrap(), &mut rng())
        .unwrap_err();
    assert!(err.to_string().contains("256"), "{err}");
    let t = ToTensor::from_chw_u8(&[0, 255], 2, 1, 1).unwrap();
    assert_eq!(vals(&t), [0.0, 1.0]);
    assert!(ToTensor::from_hwc_u8(&[1, 2, 3], 2, 2, 1).is_err());
}

#[test]
fn rotation_by_90_degrees_is_exact() {
    // Counter-clockwise by hand: the top row 0 1 2 becomes the left column
    // read upwards.
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let x = img(&x, &[1, 3, 3]);
    let want = [2., 5., 8., 1., 4., 7., 0., 3., 6.];
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        let y = functional::rotate(&x, 90.0, mode, 0.0).unwrap();
        assert_close(&vals(&y), &want, 1e-5);
        let r = RandomRotation::range(90.0, 90.0)
            .unwrap()
            .interpolation(mode);
        assert_close(&vals(&r.apply(x.clone(), &mut rng()).unwrap()), &want, 1e-5);
    }
    // 180 degrees reverses the pixels.
    let y = functional::rotate(&x, 180.0, Interpolation::Nearest, 0.0).unwrap();
    assert_close(&vals(&y), &[8., 7., 6., 5., 4., 3., 2., 1., 0.], 1e-5);
    // RandomAffine's angle is clockwise: -90 there is +90 here.
    let a = functional::affine(
        &x,
        -90.0,
        [0.0; 2],
        1.0,
        [0.0; 2],
        Interpolation::Nearest,
        0.0,
    )
    .unwrap();
    assert_close(&vals(&a), &want, 1e-5);
}

#[test]
fn rotation_by_45_degrees_bilinear_matches_torchvision() {
    // Output pixel (0, 0) of a 3x3 image has centred coordinates
    // (x, y) = (-1, -1); the inverse rotation sends it to (0, -√2), i.e.
    // pixel (row, col) = (1 - √2, 1) = (-0.414, 1). Bilinear sampling sees
    // row 0 with weight w = 1 - 0.414 = 0.586 and row -1 (outside, zero).
    // torchvision then blends the fill in with the sampled mask, also w:
    // out = v · w + (1 - w) · fill = (w · x[0][1]) · w with fill 0.
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let x = img(&x, &[1, 3, 3]);
    let y = functional::rotate(&x, 45.0, Interpolation::Bilinear, 0.0).unwrap();
    let w = 2.0f32 - 2.0f32.sqrt();
    let v = vals(&y);
    assert!((v[0] - w * w * 1.0).abs() < 1e-5, "{v:?}");
    assert!((v[4] - 4.0).abs() < 1e-5, "the centre stays: {v:?}");
    // With fill 1 the uncovered part blends towards 1.
    let y = functional::rotate(&x, 45.0, Interpolation::Bilinear, 1.0).unwrap();
    assert!((vals(&y)[0] - (w * w + (1.0 - w))).abs() < 1e-5);
    // Nearest: (−0.414, 1) rounds to (0, 1) -> 1.
    let y = functional::rotate(&x, 45.0, Interpolation::Nearest, 0.0).unwrap();
    assert_eq!(vals(&y)[0], 1.0);
}

#[test]
fn random_affine_translation_shifts_whole_pixels() {
    // translate=(0.5, 0) on width 4: tx = round(U(-2, 2)) in -2..=2, and the
    // result is the image shifted right by tx (zeros coming in).
    let x = img(&[1., 2., 3., 4.], &[1, 1, 4]);
    let t = RandomAffine::new(0.0).unwrap().translate(0.5, 0.0).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..100 {
        let y = vals(&t.apply(x.clone(), &mut sample_generator(5, 0, i)).unwrap());
        let tx = (-2i64..=2)
            .find(|&tx| vals(&functional::crop(&x, 0, -tx, 1, 4, 0.0).unwrap()) == y)
            .unwrap_or_else(|| panic!("not a whole-pixel shift: {y:?}"));
        seen.insert(tx);
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(RandomAffine::new(-1.0).is_err());
    assert!(RandomAffine::new(0.0).unwrap().scale(0.0, 1.0).is_err());
    let s = RandomAffine::new(10.0)
        .unwrap()
        .scale(0.9, 1.1)
        .unwrap()
        .shear(-5.0, 5.0)
        .unwrap();
    assert_eq!(s.apply(x, &mut rng()).unwrap().shape(), [1, 1, 4]);
}

#[test]
fn resize_bilinear_matches_pytorch_interpolate() {
    // F.interpolate([[0, 1], [2, 3]], size=(4, 4), mode="bilinear",
    // align_corners=False): source coordinates max((i + 0.5) / 2 - 0.5, 0)
    // = 0, 0.25, 0.75, 1.25 (clamped to the last pixel).
    let x = img(&[0., 1., 2., 3.], &[1, 2, 2]);
    let y = Resize::new(4, 4)
        .unwrap()
        .apply(x.clone(), &mut rng())
        .unwrap();
    #[rustfmt::skip]
    let want = [
        0.0, 0.25, 0.75, 1.0,
        0.5, 0.75, 1.25, 1.5,
        1.5, 1.75, 2.25, 2.5,
        2.0, 2.25, 2.75, 3.0,
    ];
    assert_close(&vals(&y), &want, 1e-6);
    // Down-sampling 4x4 arange by 2 samples between pixel pairs.
    let a: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let y = Resize::new(2, 2)
        .unwrap()
        .apply(img(&a, &[1, 4, 4]), &mut rng())
        .unwrap();
    assert_close(&vals(&y), &[2.5, 4.5, 10.5, 12.5], 1e-6);
    // Nearest: source floor(i / 2).
    let y = Resize::new(4, 4)
        .unwrap()
        .interpolation(Interpolation::Nearest)
        .apply(x, &mut rng())
        .unwrap();
    #[rustfmt::skip]
    let want = [0., 0., 1., 1., 0., 0., 1., 1., 2., 2., 3., 3., 2., 2., 3., 3.];
    assert_eq!(vals(&y), want);
    // Shorter side: 2x3 -> 4x6 (int(4 * 3 / 2) = 6); 5x3 -> 3x2 for size 2
    // (int(2 * 5 / 3) = 3).
    let r = Resize::shorter_side(4).unwrap();
    assert_eq!(r.output_size(2, 3), [4, 6]);
    assert_eq!(Resize::shorter_side(2).unwrap().output_size(5, 3), [3, 2]);
    assert_eq!(
        r.apply(Tensor::zeros(&[3, 2, 3]), &mut rng())
            .unwrap()
            .shape(),
        [3, 4, 6]
    );
    assert!(Resize::new(0, 2).is_err());
}

#[test]
fn compose_runs_in_order_and_is_reproducible() {
    let x = img(&[1., 2., 3., 4., 5., 6.], &[1, 2, 3]);
    let t = Compose::new()
        .append(RandomHorizontalFlip::new(1.0))
        .append(Normalize::new(vec![1.0], vec![2.0]).unwrap())
        .append(Lambda::new(|x: Tensor, _: &mut Generator| {
            Ok(x.mul_scalar(2.0))
        }));
    assert_eq!(t.len(), 3);
    // flip -> [3, 2, 1, 6, 5, 4]; (v - 1) / 2 * 2 = v - 1.
    assert_eq!(
        vals(&t.apply(x.clone(), &mut rng()).unwrap()),
        [2., 1., 0., 5., 4., 3.]
    );

    let aug = Compose::new()
        .append(RandomCrop::new(2).unwrap().padding(1))
        .append(
            RandomRotation::new(30.0)
                .unwrap()
                .interpolation(Interpolation::Bilinear),
        );
    let a = aug
        .apply(x.clone(), &mut sample_generator(9, 2, 17))
        .unwrap();
    let b = aug
        .apply(x.clone(), &mut sample_generator(9, 2, 17))
        .unwrap();
    assert_eq!(vals(&a), vals(&b));
    let differs = (0..20).any(|e| {
        vals(
            &aug.apply(x.clone(), &mut sample_generator(9, e, 17))
                .unwrap(),
        ) != vals(&a)
    });
    assert!(differs, "new epochs must give new augmentations");
    // Integer images are rejected by the float transforms.
    let ints = Tensor::from_vec(vec![1i64, 2], &[1, 1, 2]).unwrap();
    assert!(RandomHorizontalFlip::new(1.0)
        .apply(ints, &mut rng())
        .unwrap_err()
        .to_string()
        .contains("ToTensor"));
}
