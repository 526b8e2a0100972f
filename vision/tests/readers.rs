//! Readers and datasets: small valid and broken files written to temporary
//! folders, and the embedded MNIST digits.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use torchlet_data::{DataError, Dataset};
use torchlet_tensor::Tensor;
use torchlet_vision::cifar::{self, CIFAR_IMAGE_BYTES};
use torchlet_vision::idx::{self, encode_idx};
use torchlet_vision::transforms::{Compose, Normalize, RandomCrop, RandomRotation};
use torchlet_vision::{Cifar10, Cifar100, Cifar100Label, ColorMode, ImageFolder, Mnist};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

/// Asserts the error message names the file and contains `what`.
fn assert_err<T: std::fmt::Debug>(r: torchlet_vision::Result<T>, path: &Path, what: &str) {
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "no file name in: {msg}"
    );
    assert!(msg.contains(what), "expected {what:?} in: {msg}");
}

/// Three 2x2 images with pixels 0..12 and labels 7, 0, 9.
fn tiny_mnist(dir: &Path, gz: bool) {
    let images = encode_idx(&[3, 2, 2], &(0..12).map(|v| v * 20).collect::<Vec<u8>>());
    let labels = encode_idx(&[3], &[7, 0, 9]);
    let (images, labels, ext) = if gz {
        (gzip(&images), gzip(&labels), ".gz")
    } else {
        (images, labels, "")
    };
    write(dir, &format!("train-images-idx3-ubyte{ext}"), &images);
    write(dir, &format!("train-labels-idx1-ubyte{ext}"), &labels);
}

#[test]
fn idx_raw_and_gzip_read_the_same() {
    for gz in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        tiny_mnist(dir.path(), gz);
        let m = Mnist::from_dir(dir.path(), true).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.image_shape(), [1, 2, 2]);
        assert_eq!(m.labels(), [7, 0, 9]);
        assert_eq!(m.image_bytes(1), [80, 100, 120, 140]);
        let (x, y) = m.get(2).unwrap();
        assert_eq!(y, 9);
        assert_eq!(x.shape(), [1, 2, 2]);
        assert_eq!(
            x.to_vec::<f32>().unwrap(),
            [160. / 255., 180. / 255., 200. / 255., 220. / 255.]
        );
        let (bx, by) = m.batch(&[2, 0]).unwrap();
        assert_eq!(bx.shape(), [2, 1, 2, 2]);
        assert_eq!(by.to_vec::<i64>().unwrap(), [9, 7]);
        assert_eq!(
            bx.to_vec::<f32>().unwrap()[..4],
            x.to_vec::<f32>().unwrap()[..]
        );
        assert!(m.batch(&[3]).is_err());
        assert!(matches!(
            m.get(3),
            Err(DataError::Index {
                index: 3,
                len: 3,
                ..
            })
        ));
        assert!(Mnist::from_dir(dir.path(), false)
            .unwrap_err()
            .to_string()
            .contains("t10k-images-idx3-ubyte"));
    }
}

#[test]
fn idx_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pixels = vec![0u8; 2 * 28 * 28];

    // Wrong magic: a label file read as images.
    let p = write(d, "labels-as-images", &encode_idx(&[2], &[1, 2]));
    assert_err(
        idx::read_idx_images(&p),
        &p,
        "wrong magic number 0x00000801 (an IDX label file), expected 0x00000803",
    );
    let p = write(d, "png", b"\x89PNG\r\n\x1a\n rest");
    assert_err(
        idx::read_idx_labels(&p),
        &p,
        "wrong magic number 0x89504e47",
    );
    let mut float = encode_idx(&[2], &[0; 8]);
    float[2] = 0x0d;
    let p = write(d, "float", &float);
    assert_err(idx::read_idx(&p), &p, "unsupported IDX element type 0x0d");

    // Truncated header and data, raw and gzip.
    let p = write(d, "short-header", &encode_idx(&[2, 28, 28], &[])[..9]);
    assert_err(idx::read_idx_images(&p), &p, "truncated IDX header");
    let full = encode_idx(&[2, 28, 28], &pixels);
    let p = write(d, "short-data", &full[..full.len() - 10]);
    assert_err(
        idx::read_idx_images(&p),
        &p,
        "claims 2 images of 28x28 (1568 bytes) but only 1558 bytes",
    );
    let p = write(d, "short-data.gz", &gzip(&full[..full.len() - 10]));
    assert_err(idx::read_idx_images(&p), &p, "only 1558 bytes");
    let gz = gzip(&full);
    let p = write(d, "cut-gzip.gz", &gz[..gz.len() / 2]);
    assert_err(idx::read_idx_images(&p), &p, "gzip stream is truncated");
    let mut extra = full.clone();
    extra.extend([1, 2, 3]);
    let p = write(d, "extra", &extra);
    assert_err(idx::read_idx_images(&p), &p, "3 more bytes");

    // A header claiming 10^9 images: an error, not a 784 GB allocation.
    let huge = encode_idx(&[1_000_000_000, 28, 28], &pixels);
    let p = write(d, "huge", &huge);
    assert_err(
        idx::read_idx_images(&p),
        &p,
        "claims 1000000000 images of 28x28 (784000000000 bytes)",
    );
    let p = write(d, "huge.gz", &gzip(&huge));
    assert_err(idx::read_idx_images(&p), &p, "claims 1000000000 images");
    let p = write(
        d,
        "overflow",
        &encode_idx(&[u32::MAX, u32::MAX, u32::MAX], &[]),
    );
    assert_err(idx::read_idx_images(&p), &p, "overflow");

    // Missing file and empty file.
    let p = d.join("missing");
    assert_err(idx::read_idx_images(&p), &p, "");
    let p = write(d, "empty", &[]);
    assert_err(idx::read_idx_labels(&p), &p, "truncated IDX header");

    // Labels and images that disagree, and labels outside 0..=9.
    let img = write(d, "i", &encode_idx(&[2, 28, 28], &pixels));
    let lab = write(d, "l", &encode_idx(&[3], &[1, 2, 3]));
    assert_err(Mnist::from_files(&img, &lab), &lab, "holds 3 labels but");
    let lab = write(d, "l2", &encode_idx(&[2], &[1, 12]));
    assert_err(Mnist::from_files(&img, &lab), &lab, "label 1 is 12");

    // Dataset errors reach torchlet-data as DataError::Source with the message.
    let e: DataError = idx::read_idx_images(d.join("missing")).unwrap_err().into();
    assert!(
        matches!(e, DataError::Source(ref m) if m.contains("missing")),
        "{e}"
    );
}

#[test]
fn embedded_mnist() {
    let train = Mnist::embedded(true).unwrap();
    let test = Mnist::embedded(false).unwrap();
    assert_eq!((train.len(), test.len()), (8000, 2000));
    assert_eq!(train.image_shape(), [1, 28, 28]);
    assert_eq!(train.images().len(), 8000 * 784);
    for ds in [&train, &test] {
        let mut counts = [0usize; 10];
        for &l in ds.labels() {
            counts[l as usize] += 1;
        }
        // Every digit occurs, none dominates (README: 863..1127 per digit overall).
        assert!(counts.iter().all(|&c| c > ds.len() / 20), "{counts:?}");
        // Real digits: black background, full-intensity ink.
        assert_eq!(ds.images().iter().min(), Some(&0));
        assert_eq!(ds.images().iter().max(), Some(&255));
    }
    let (x, y) = train.get(0).unwrap();
    assert_eq!(x.shape(), [1, 28, 28]);
    assert!((0..10).contains(&y));
    let v = x.to_vec::<f32>().unwrap();
    assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
    // Mean intensity of MNIST digits is about 0.13.
    let mean = train.images().iter().map(|&p| p as f64).sum::<f64>()
        / (train.images().len() as f64 * 255.0);
    assert!((0.09..0.17).contains(&mean), "{mean}");
}

#[test]
fn dataset_transforms_are_seeded_per_sample_and_epoch() {
    let make = || {
        Mnist::embedded(false)
            .unwrap()
            .with_transform(
                Compose::new()
                    .append(RandomCrop::new(28).unwrap().padding(2))
                    .append(RandomRotation::new(15.0).unwrap())
                    .append(Normalize::new(vec![0.1307], vec![0.3081]).unwrap()),
            )
            .with_seed(123)
    };
    let a = make();
    let b = make();
    let item = |d: &Mnist, i: usize| d.get(i).unwrap().0.to_vec::<f32>().unwrap();
    // Same (seed, epoch, index) -> same image, whatever the order of calls.
    let forward: Vec<Vec<f32>> = (0..8).map(|i| item(&a, i)).collect();
    let backward: Vec<Vec<f32>> = (0..8).rev().map(|i| item(&b, i)).collect();
    assert!(forward.iter().eq(backward.iter().rev()));
    // ... and on other threads.
    let threaded: Vec<Vec<f32>> = std::thread::scope(|s| {
        let b = &b;
        let handles: Vec<_> = (0..8).map(|i| s.spawn(move || item(b, i))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(forward, threaded);
    // A new epoch changes the augmentation; going back restores it.
    a.set_epoch(1);
    assert_eq!(a.epoch(), 1);
    assert_ne!(item(&a, 0), forward[0]);
    a.set_epoch(0);
    assert_eq!(item(&a, 0), forward[0]);
    // The raw fast path ignores the transform.
    let (x, _) = a.batch(&[0]).unwrap();
    assert_eq!(
        x.to_vec::<f32>().unwrap(),
        a.image(0).unwrap().to_vec::<f32>().unwrap()
    );
}

fn cifar_record(label: &[u8], fill: u8) -> Vec<u8> {
    let mut r = label.to_vec();
    r.extend((0..CIFAR_IMAGE_BYTES).map(|i| fill.wrapping_add(i as u8)));
    r
}

#[test]
fn cifar_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sub = d.join("cifar-10-batches-bin");
    fs::create_dir(&sub).unwrap();
    for i in 1..=5u8 {
        let bytes = [cifar_record(&[i], i), cifar_record(&[9], 0)].concat();
        write(&sub, &format!("data_batch_{i}.bin"), &bytes);
    }
    write(&sub, "test_batch.bin", &cifar_record(&[3], 7));
    let train = Cifar10::from_dir(d, true).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.labels(), [1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    let (x, y) = train.get(2).unwrap();
    assert_eq!((x.shape(), y), (&[3, 32, 32][..], 2));
    // Planar RGB: the first green byte is pixel 1024 of the record.
    assert_eq!(
        x.get::<f32>(&[1, 0, 0]).unwrap(),
        (2u8.wrapping_add(0)) as f32 / 255.0
    );
    assert_eq!(train.image_bytes(2)[1024], 2);
    let test = Cifar10::from_dir(&sub, false).unwrap();
    assert_eq!((test.len(), test.labels()), (1, &[3][..]));

    // CIFAR-100: coarse then fine label.
    let bytes = [cifar_record(&[19, 99], 0), cifar_record(&[0, 5], 1)].concat();
    let p = write(d, "train.bin", &bytes);
    let fine = Cifar100::from_dir(d, true, Cifar100Label::Fine).unwrap();
    assert_eq!(
        (fine.labels(), fine.other_labels()),
        (&[99, 5][..], &[19, 0][..])
    );
    let coarse = Cifar100::from_batch(
        cifar::read_cifar100_batch(&p).unwrap(),
        Cifar100Label::Coarse,
    )
    .unwrap();
    assert_eq!(coarse.get(0).unwrap().1, 19);

    // Broken files.
    let p = write(d, "short.bin", &cifar_record(&[1], 0)[..3000]);
    assert_err(
        cifar::read_cifar10_batch(&p),
        &p,
        "3000 bytes is not a whole number of 3073-byte CIFAR-10 records",
    );
    let p = write(d, "label.bin", &cifar_record(&[10], 0));
    assert_err(
        cifar::read_cifar10_batch(&p),
        &p,
        "record 0 has label 10, expected 0..=9",
    );
    let p = write(d, "fine.bin", &cifar_record(&[3, 100], 0));
    assert_err(cifar::read_cifar100_batch(&p), &p, "fine label 100");
    let p = write(d, "pickle.bin", &[0x80, 0x02, 0x7d]);
    assert_err(cifar::read_cifar10_batch(&p), &p, "Python pickle");
    let p = write(d, "empty.bin", &[]);
    assert_err(cifar::read_cifar10_batch(&p), &p, "empty file");
    assert!(Cifar10::from_dir(d.join("nowhere"), true)
        .unwrap_err()
        .to_string()
        .contains("data_batch_1.bin"));
}

fn save_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

#[test]
fn image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for c in ["dog", "cat", "bird"] {
        fs::create_dir(root.join(c)).unwrap();
    }
    save_png(&root.join("dog/b.png"), 3, 2, [255, 0, 0]);
    save_png(&root.join("dog/a.PNG"), 3, 2, [0, 255, 0]);
    fs::create_dir(root.join("cat/nested")).unwrap();
    save_png(&root.join("cat/nested/z.png"), 2, 2, [0, 0, 255]);
    image::RgbImage::from_pixel(4, 4, image::Rgb([10, 20, 30]))
        .save(root.join("cat/x.jpg"))
        .unwrap();
    save_png(&root.join("bird/only.png"), 1, 1, [51, 102, 153]);
    fs::write(root.join("cat/notes.txt"), "not an image").unwrap();
    fs::write(root.join("stray.png"), "files at the root are not classes").unwrap();

    let ds = ImageFolder::new(root).unwrap();
    assert_eq!(ds.classes(), ["bird", "cat", "dog"]);
    assert_eq!(ds.class_index("dog"), Some(2));
    let order: Vec<(String, usize)> = ds
        .samples()
        .iter()
        .map(|(p, c)| (p.strip_prefix(root).unwrap().display().to_string(), *c))
        .collect();
    // Sorted by folder then file, as sorted(os.walk(...)).
    let want = [
        ("bird/only.png", 0),
        ("cat/x.jpg", 1),
        ("cat/nested/z.png", 1),
        ("dog/a.PNG", 2),
        ("dog/b.png", 2),
    ];
    assert_eq!(order, want.map(|(p, c)| (p.to_string(), c)));

    let (x, y) = ds.get(0).unwrap();
    assert_eq!((x.shape(), y), (&[3, 1, 1][..], 0));
    assert_eq!(x.to_vec::<f32>().unwrap(), [0.2, 0.4, 0.6]);
    let (x, y) = ds.get(4).unwrap();
    assert_eq!((x.shape(), y), (&[3, 2, 3][..], 2));
    assert_eq!(x.get::<f32>(&[0, 1, 2]).unwrap(), 1.0);
    let (jpg, _) = ds.get(1).unwrap();
    assert_eq!(jpg.shape(), [3, 4, 4]);
    let gray = ImageFolder::new(root).unwrap().color_mode(ColorMode::Gray);
    assert_eq!(gray.load(0).unwrap().shape(), [1, 1, 1]);

    // A corrupt image fails at get, naming the file.
    fs::write(root.join("dog/c.png"), b"\x89PNG\r\n\x1a\ngarbage").unwrap();
    let ds = ImageFolder::new(root).unwrap();
    let e = ds.get(5).unwrap_err().to_string();
    assert!(e.contains("c.png") && e.contains("cannot decode"), "{e}");
    // Truncated PNG.
    let good = fs::read(root.join("dog/b.png")).unwrap();
    fs::write(root.join("dog/c.png"), &good[..good.len() / 2]).unwrap();
    assert!(ds.get(5).unwrap_err().to_string().contains("c.png"));

    // An empty class folder and a folder without classes are errors.
    fs::create_dir(root.join("empty")).unwrap();
    let e = ImageFolder::new(root).unwrap_err().to_string();
    assert!(e.contains("no valid file for the classes empty"), "{e}");
    let bare = tempfile::tempdir().unwrap();
    let e = ImageFolder::new(bare.path()).unwrap_err().to_string();
    assert!(e.contains("no class folder"), "{e}");
    assert!(ImageFolder::new(root.join("missing")).is_err());
}

#[test]
fn images_tensor_helpers_agree() {
    let m = Mnist::embedded(false).unwrap();
    let first = m.image(0).unwrap();
    let from_bytes =
        torchlet_vision::transforms::ToTensor::from_chw_u8(m.image_bytes(0), 1, 28, 28).unwrap();
    assert_eq!(
        first.to_vec::<f32>().unwrap(),
        from_bytes.to_vec::<f32>().unwrap()
    );
    let _: Tensor = first;
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic a reader: they parse or give an error.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = idx::parse_idx(&bytes, "fuzz");
            let _ = idx::parse_idx_images(&bytes, "fuzz");
            let _ = idx::parse_idx_labels(&gzip(&bytes), "fuzz");
            let _ = cifar::parse_cifar10_batch(&bytes, "fuzz");
            let _ = cifar::parse_cifar100_batch(&bytes, "fuzz");
        }

        /// A valid image file with one byte changed, or cut short, either
        /// still parses to the declared size or errors naming the source.
        #[test]
        fn mutated_idx_files(pos in 0usize..36, value in any::<u8>(), cut in 0usize..36, gz in any::<bool>()) {
            let mut bytes = encode_idx(&[2, 2, 5], &[7; 20]);
            bytes[pos] = value;
            bytes.truncate(36 - cut);
            let bytes = if gz { gzip(&bytes) } else { bytes };
            match idx::parse_idx_images(&bytes, "mutant") {
                Ok(images) => prop_assert_eq!(images.pixels.len(), images.count * images.rows * images.cols),
                Err(e) => prop_assert!(e.to_string().starts_with("mutant: "), "{}", e),
            }
        }
    }
}
